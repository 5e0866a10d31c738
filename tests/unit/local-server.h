/* A `colo` server started by a cmocka test on a free port of 127.0.0.1 (the admission, extender
 * and HTTPS server tests). The port is picked by binding port 0 and closing, and the child binds
 * it a moment later: another test may take it in between, and then the child exits before it
 * answers, so start_colo_on_free_port() tries again on a new port. Include it after <cmocka.h>. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "k8s-test-helpers.h"

/* How many ports start_colo_on_free_port() tries before it gives up. */
#define LOCAL_SERVER_ATTEMPTS 3

/* A port that was free a moment ago on 127.0.0.1, for a subprocess to bind; fails the test when
 * no socket can be had. */
static inline uint16_t free_port(void) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                fail_msg("free_port: socket: %s", strerror(errno));
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *) &a, &len) < 0) {
                int e = errno;
                close(fd);
                fail_msg("free_port: bind 127.0.0.1:0: %s", strerror(e));
        }
        close(fd);
        return ntohs(a.sin_port);
}

/* Where a `colo` server started by a test listens. */
typedef struct LocalServer {
        uint16_t port;
        char listen[32];                /* 127.0.0.1:PORT, for --listen */
        char health[64];                /* GET URL of /healthz */
        char base[64];                  /* http://ADDR:PORT */
} LocalServer;

/* Fills l (in place: an argument vector may point at l->listen) for a new free port. */
static inline void local_server_pick(LocalServer *l) {
        l->port = free_port();
        snprintf(l->listen, sizeof(l->listen), "127.0.0.1:%u", l->port);
        snprintf(l->health, sizeof(l->health), "http://%s/healthz", l->listen);
        snprintf(l->base, sizeof(l->base), "http://%s", l->listen);
}

/* start_colo() with args that name l->listen (the very string, so a new port reaches them): each
 * attempt picks a new port into *l first, and a child that exits before it answers (the port was
 * taken meanwhile) is tried again, LOCAL_SERVER_ATTEMPTS times in all. Returns what the last
 * start_colo() returned. */
static inline pid_t start_colo_on_free_port(char *const args[], LocalServer *l) {
        pid_t pid = -ECHILD;
        for (int i = 0; i < LOCAL_SERVER_ATTEMPTS && pid == -ECHILD; i++) {
                if (i > 0)
                        print_message("colo exited before answering on %s (port taken?), trying another port\n",
                                      l->listen);
                local_server_pick(l);
                pid = start_colo(args, l->health);
        }
        return pid;
}
