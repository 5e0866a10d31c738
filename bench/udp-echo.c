/* A UDP echo service and its latency probe, for the benchmark of an online service colo does not
 * start (bench/outside-service.sh): a stand-in for a daemon systemd or an operator started.
 *
 *     colo-udp-echo serve PORT                   echo every datagram on 127.0.0.1:PORT, forever
 *     colo-udp-echo probe PORT RATE SECONDS      RATE requests/s, one at a time, for SECONDS;
 *                                                prints JSON: count, lost, p50/p99/p999/max in us
 *
 * The probe paces requests on CLOCK_MONOTONIC and waits for each answer (at most 100 ms, then
 * counts it lost), so each sample is one wake-up of the server: what a SCHED_IDLE neighbour does
 * or does not delay. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "latency-histogram.h"

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int udp_socket(int port, struct sockaddr_in *sa, int do_bind) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        *sa = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (do_bind && bind(fd, (struct sockaddr *) sa, sizeof(*sa)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static int serve(int port) {
        struct sockaddr_in sa;
        int fd = udp_socket(port, &sa, 1);
        if (fd < 0) {
                perror("colo-udp-echo: bind");
                return 1;
        }
        for (;;) {
                char buf[64];
                struct sockaddr_in from;
                socklen_t len = sizeof(from);
                ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *) &from, &len);
                if (n > 0)
                        (void) sendto(fd, buf, (size_t) n, 0, (struct sockaddr *) &from, len);
                else if (n < 0 && errno != EINTR)
                        return perror("colo-udp-echo: recvfrom"), 1;
        }
}

/* One request: sends seq, waits for its echo (older late answers are skipped). 1 answered, 0 lost. */
static int one_request(int fd, const struct sockaddr_in *sa, uint64_t seq, LatencyHistogram *h) {
        uint64_t t0 = now_ns();
        if (sendto(fd, &seq, sizeof(seq), 0, (const struct sockaddr *) sa, sizeof(*sa)) < 0)
                return 0;
        for (;;) {
                int64_t left_ms = 100 - (int64_t) ((now_ns() - t0) / 1000000);
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (left_ms <= 0 || poll(&p, 1, (int) left_ms) <= 0)
                        return 0;
                uint64_t got = 0;
                if (recv(fd, &got, sizeof(got), 0) == (ssize_t) sizeof(got) && got == seq) {
                        latency_histogram_record(h, (now_ns() - t0) / 1000);
                        return 1;
                }
        }
}

static int probe(int port, double rate, double seconds) {
        struct sockaddr_in sa;
        int fd = udp_socket(port, &sa, 0);
        if (fd < 0 || rate <= 0 || seconds <= 0) {
                fprintf(stderr, "colo-udp-echo: bad probe arguments\n");
                return 2;
        }
        static LatencyHistogram h;
        latency_histogram_init(&h);
        uint64_t interval = (uint64_t) (1e9 / rate), start = now_ns(), end = start + (uint64_t) (seconds * 1e9);
        uint64_t sent = 0, answered = 0;
        for (uint64_t next = start; next < end; next += interval) {
                uint64_t t = now_ns();
                if (next > t) {
                        struct timespec ts = { .tv_sec = (time_t) ((next - t) / 1000000000ULL),
                                               .tv_nsec = (long) ((next - t) % 1000000000ULL) };
                        nanosleep(&ts, NULL);
                }
                answered += (uint64_t) one_request(fd, &sa, ++sent, &h);
        }
        printf("{\"count\":%llu,\"lost\":%llu,\"latency_us\":{\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}}\n",
               (unsigned long long) answered, (unsigned long long) (sent - answered),
               (unsigned long long) latency_histogram_quantile(&h, 0.50),
               (unsigned long long) latency_histogram_quantile(&h, 0.99),
               (unsigned long long) latency_histogram_quantile(&h, 0.999), (unsigned long long) (h.total ? h.max : 0));
        close(fd);
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "serve") == 0)
                return serve(atoi(argv[2]));
        if (argc == 5 && strcmp(argv[1], "probe") == 0)
                return probe(atoi(argv[2]), atof(argv[3]), atof(argv[4]));
        fprintf(stderr, "usage: colo-udp-echo serve PORT | probe PORT RATE SECONDS\n");
        return 2;
}
