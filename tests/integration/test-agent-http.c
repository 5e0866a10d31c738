/* Integration test: the agent's /healthz and /metrics stay answerable while one client holds
 * 40 slowloris connections (headers begun, a byte trickled on each of them every 200 ms, never
 * finished). The slow client is 127.0.0.2, the scraper 127.0.0.1: the server tells clients apart
 * by address. Bounded: each answer is waited for at most 8 s, and the test fails past it.
 * Needs root and v1 or a delegated v2 (the agent manages a scratch subtree): exit 77. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent-harness.h"

#define SLOW_CONNECTIONS 40

static int connect_from(const char *src) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        struct sockaddr_in from = { .sin_family = AF_INET };
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t) harness_metrics_port()) };
        CHECK(inet_pton(AF_INET, src, &from.sin_addr) == 1 && inet_pton(AF_INET, "127.0.0.1", &to.sin_addr) == 1);
        CHECK(bind(fd, (struct sockaddr *) &from, sizeof(from)) == 0);
        CHECK(connect(fd, (struct sockaddr *) &to, sizeof(to)) == 0);
        return fd;
}

/* One byte more of a header that never ends, on every slow connection still open. */
static void trickle(int *slow, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (slow[i] >= 0 && send(slow[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
                        close(slow[i]);
                        slow[i] = -1;   /* the server closed it: a slot it gave back */
                }
}

/* GET path from 127.0.0.1 while the slow client trickles. Returns the status, or 0 when no
 * complete answer head came within 8 s. */
static int get_while_trickling(const char *path, int *slow, size_t n_slow) {
        int fd = connect_from("127.0.0.1");
        char req[128], buf[4096] = "";
        int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
        CHECK(send(fd, req, (size_t) len, MSG_NOSIGNAL) == len);
        size_t got = 0;
        for (int round = 0; round < 40 && !strstr(buf, "\r\n\r\n"); round++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 200) > 0) {
                        ssize_t k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                        buf[got] = '\0';
                }
                trickle(slow, n_slow);
        }
        close(fd);
        int status = 0;
        return sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

int main(int argc, char **argv) {
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        harness_start_agent(500);

        int slow[SLOW_CONNECTIONS];
        for (size_t i = 0; i < SLOW_CONNECTIONS; i++) {
                slow[i] = connect_from("127.0.0.2");
                CHECK(send(slow[i], "GET /metrics HTTP/1.1\r\nHost: x\r\nX-", 34, MSG_NOSIGNAL) == 34);
        }
        for (int i = 0; i < 3; i++) {
                int health = get_while_trickling("/healthz", slow, SLOW_CONNECTIONS);
                int metrics = get_while_trickling("/metrics", slow, SLOW_CONNECTIONS);
                size_t open = 0;
                for (size_t k = 0; k < SLOW_CONNECTIONS; k++)
                        open += slow[k] >= 0;
                fprintf(stderr, "round %d: /healthz %d, /metrics %d, slow connections still open %zu of %d\n", i,
                        health, metrics, open, SLOW_CONNECTIONS);
                CHECK(health == 200);
                CHECK(metrics == 200);
        }
        for (size_t i = 0; i < SLOW_CONNECTIONS; i++)
                if (slow[i] >= 0)
                        close(slow[i]);
        return harness_teardown();
}
