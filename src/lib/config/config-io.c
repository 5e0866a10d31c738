/* The per-device IO keys (isolation.*_io_max, isolation.online_io_latency): one YAML string of
 * entries "DEVICE key=value ...", separated by ";", in the kernel's own io.max style with colo's
 * units: "/dev/vda wbps=50Mi wiops=500; 8:16 rbps=max" and "/dev/vda target=10ms". Parsing is
 * pure (fuzzed with the rest of the file); config_resolve_devices() then turns device paths into
 * MAJ:MIN and refuses partitions, which needs stat() and sysfs. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "blockdev/blockdev.h"
#include "config/config-internal.h"
#include "util/macro.h"

static const char *const throttle_keys[] = { "rbps", "wbps", "riops", "wiops", NULL };
static const char *const latency_keys[] = { "target", NULL };

/* Device paths are kept to characters that need no quoting in YAML or in messages. */
static bool is_device_path(const char *s, size_t n) {
        if (n < 2 || s[0] != '/')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9') &&
                    !strchr("/._-:+@", s[i]))
                        return false;
        return true;
}

static uint64_t *rule_field(PolicyIoRule *r, size_t key, bool latency) {
        if (latency)
                return &r->latency_usec;
        uint64_t *fields[] = { &r->rbps, &r->wbps, &r->riops, &r->wiops };
        return fields[key];
}

/* One "key=value" of an entry into rule. */
static int parse_setting(const char *tok, size_t n, bool latency, PolicyIoRule *rule, char *buf, size_t size) {
        const char *const *keys = latency ? latency_keys : throttle_keys;
        const char *eq = memchr(tok, '=', n);
        size_t klen = eq ? (size_t) (eq - tok) : n, key = 0;
        while (keys[key] && !(strlen(keys[key]) == klen && memcmp(keys[key], tok, klen) == 0))
                key++;
        if (!keys[key] || !eq) {
                snprintf(buf, size, "%s: unknown setting \"%.*s\" (expected %s)", rule->device, (int) MIN(n, (size_t) 40),
                         tok, latency ? "target=<duration>" : "rbps=, wbps=, riops= or wiops=");
                return -EINVAL;
        }
        uint64_t *field = rule_field(rule, key, latency);
        if (*field != CG_UNSET) {
                snprintf(buf, size, "%s: %s given twice", rule->device, keys[key]);
                return -EINVAL;
        }
        char v[64];
        size_t vlen = n - klen - 1;
        if (vlen == 0 || vlen >= sizeof(v))
                goto bad;
        memcpy(v, eq + 1, vlen);
        v[vlen] = '\0';
        uint64_t x;
        if (strcmp(v, "max") == 0)
                x = CG_UNLIMITED;
        else if (latency ? config_parse_duration(v, &x) < 0 || x < 1 || x > 60 * USEC_PER_SEC :
                 key < 2 ? config_parse_bytes(v, &x) < 0 || x < 1 || x >= (UINT64_C(1) << 62) :
                           config_parse_uint64(v, &x) < 0 || x < 1 || x > UINT32_MAX)
                goto bad;
        *field = x;
        return 0;
bad:
        snprintf(buf, size, "%s: %s: expected %s, or max, got \"%.*s\"", rule->device, keys[key],
                 latency ? "a duration of 1us..60s such as 10ms" :
                 key < 2 ? "a rate in bytes per second such as 50Mi" : "a number of IOs per second (1..4294967295)",
                 (int) MIN(vlen, (size_t) 40), eq + 1);
        return -EINVAL;
}

/* One entry "DEVICE key=value ..." (n bytes at s, trimmed) into rule. */
static int parse_entry(const char *s, size_t n, bool latency, PolicyIoRule *rule, char *buf, size_t size) {
        size_t dlen = strcspn(s, " \t");
        dlen = MIN(dlen, n);
        *rule = (PolicyIoRule) { .rbps = CG_UNSET, .wbps = CG_UNSET, .riops = CG_UNSET, .wiops = CG_UNSET,
                                 .latency_usec = CG_UNSET };
        if (dlen < sizeof(rule->device))
                memcpy(rule->device, s, dlen);
        if (dlen >= sizeof(rule->device) || !(is_device_path(s, dlen) || blockdev_devnum_is_valid(rule->device))) {
                snprintf(buf, size, "device \"%.*s\": expected a whole-disk path such as /dev/vda (at most %zu "
                         "characters) or MAJ:MIN such as 254:0", (int) MIN(dlen, (size_t) 70), s, sizeof(rule->device) - 1);
                return -EINVAL;
        }
        if (s[0] != '/')       /* MAJ:MIN, at most 12 characters */
                memcpy(rule->devnum, s, dlen);
        bool any = false;
        for (size_t i = dlen; i < n;) {
                i += strspn(s + i, " \t");
                size_t t = MIN(strcspn(s + i, " \t"), n - i);
                if (t == 0)
                        break;
                int r = parse_setting(s + i, t, latency, rule, buf, size);
                if (r < 0)
                        return r;
                any = true;
                i += t;
        }
        if (!any) {
                snprintf(buf, size, "%s: nothing set (expected %s)", rule->device,
                         latency ? "target=<duration>" : "at least one of rbps=, wbps=, riops=, wiops=");
                return -EINVAL;
        }
        return 0;
}

int config_io_rules_parse(const char *s, bool latency, PolicyIoRules *ret, char *buf, size_t size) {
        PolicyIoRules rules = {};
        const char *p = s + strspn(s, " \t");
        while (*p) {            /* "" or only blanks: no rules */
                p += strspn(p, " \t");
                size_t n = strcspn(p, ";");
                while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                        n--;
                if (n == 0) {
                        snprintf(buf, size, "empty entry (entries are \"DEVICE key=value ...\" separated by \";\")");
                        return -EINVAL;
                }
                if (rules.n == CG_IO_LIMITS_MAX) {
                        snprintf(buf, size, "more than %d devices", CG_IO_LIMITS_MAX);
                        return -E2BIG;
                }
                int r = parse_entry(p, n, latency, &rules.rules[rules.n], buf, size);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < rules.n; i++)
                        if (strcmp(rules.rules[i].device, rules.rules[rules.n].device) == 0) {
                                snprintf(buf, size, "device %s listed twice", rules.rules[i].device);
                                return -EINVAL;
                        }
                rules.n++;
                p += strcspn(p, ";");
                if (*p == ';' && *++p == '\0') {
                        snprintf(buf, size, "empty entry after the last \";\"");
                        return -EINVAL;
                }
        }
        *ret = rules;
        return 0;
}

static size_t append_value(char *buf, size_t size, size_t o, const char *key, uint64_t v, int kind) {
        char num[64];
        if (v == CG_UNSET || o >= size)
                return o;
        if (v == CG_UNLIMITED)
                snprintf(num, sizeof(num), "max");
        else if (kind == 0)
                config_format_bytes(v, num, sizeof(num));
        else if (kind == 1)
                snprintf(num, sizeof(num), "%" PRIu64, v);
        else
                config_format_duration(v, num, sizeof(num));
        return o + (size_t) snprintf(buf + o, size - o, " %s=%s", key, num);
}

const char *config_io_rules_format(const PolicyIoRules *rules, char *buf, size_t size) {
        size_t o = (size_t) snprintf(buf, size, "\"");
        for (size_t i = 0; i < rules->n && i < CG_IO_LIMITS_MAX && o < size; i++) {
                const PolicyIoRule *r = &rules->rules[i];
                o += (size_t) snprintf(buf + o, size - o, "%s%.*s", i ? "; " : "", (int) sizeof(r->device), r->device);
                o = append_value(buf, size, o, "rbps", r->rbps, 0);
                o = append_value(buf, size, o, "wbps", r->wbps, 0);
                o = append_value(buf, size, o, "riops", r->riops, 1);
                o = append_value(buf, size, o, "wiops", r->wiops, 1);
                o = append_value(buf, size, o, "target", r->latency_usec, 2);
        }
        if (o < size)
                snprintf(buf + o, size - o, "\"");
        return buf;
}

bool config_io_rules_equal(const PolicyIoRules *a, const PolicyIoRules *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n && i < CG_IO_LIMITS_MAX; i++) {
                const PolicyIoRule *x = &a->rules[i], *y = &b->rules[i];
                if (strncmp(x->device, y->device, sizeof(x->device)) != 0 ||
                    strncmp(x->devnum, y->devnum, sizeof(x->devnum)) != 0 || x->rbps != y->rbps || x->wbps != y->wbps ||
                    x->riops != y->riops || x->wiops != y->wiops || x->latency_usec != y->latency_usec)
                        return false;
        }
        return true;
}

int config_resolve_devices(Config *c, const char *sys_root, const char *filename, ColoError *err) {
        for (size_t i = 0; i < config_keys_count; i++) {
                const ConfigKey *k = &config_keys[i];
                if (k->type != CONFIG_TYPE_IO_MAX && k->type != CONFIG_TYPE_IO_LATENCY)
                        continue;
                PolicyIoRules *rules = config_key_field(k, c);
                for (size_t j = 0; j < rules->n; j++) {
                        PolicyIoRule *r = &rules->rules[j];
                        char why[512];
                        int ret = blockdev_resolve(sys_root, r->device, r->devnum, sizeof(r->devnum), why, sizeof(why));
                        if (ret < 0)
                                return colo_error_setf_plain(err, -ret, "%s: %s: %s", filename ? filename : "<config>",
                                                             k->dotted, why);
                        for (size_t d = 0; d < j; d++)
                                if (strcmp(rules->rules[d].devnum, r->devnum) == 0)
                                        return colo_error_setf_plain(err, EINVAL, "%s: %s: '%s' and '%s' are the same "
                                                                     "disk (%s): list it once",
                                                                     filename ? filename : "<config>", k->dotted,
                                                                     rules->rules[d].device, r->device, r->devnum);
                }
        }
        return 0;
}
