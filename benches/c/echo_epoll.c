/* echo_epoll.c — written for the benchmark: the same server as echo_threads.c (whole
 * messages echoed, a T1 + T2 window per client, 3 missed heartbeats and it is dead), as one
 * thread with epoll and non-blocking sockets: what a C programmer would use for thousands.
 * usage: echo_epoll PORT MSGSIZE IDLE INTERVAL   (prints "listening PORT" once ready) */
#include "listen.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn { int fd, got, missed; double deadline; char *msg; };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int size = argc > 2 ? atoi(argv[2]) : 2004;
    double t1 = argc > 4 ? atof(argv[3]) : 1, t2 = argc > 4 ? atof(argv[4]) : 1;
    int s = listen_loopback(argc > 1 ? argv[1] : NULL, 4096);
    int ep = epoll_create1(0), max = 65536;
    struct conn **conns = calloc(max, sizeof *conns);
    struct epoll_event ev = {EPOLLIN, {.fd = s}}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    double swept = now();
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == s) {
                int c = accept(s, NULL, NULL);
                if (c < 0) continue;
                if (c >= max) { close(c); continue; }
                fcntl(c, F_SETFL, O_NONBLOCK);
                struct conn *k = calloc(1, sizeof *k);
                k->fd = c;
                k->msg = malloc(size);
                k->deadline = now() + t1 + t2;
                conns[c] = k;
                struct epoll_event ce = {EPOLLIN, {.fd = c}};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                continue;
            }
            struct conn *k = conns[fd];
            int rc = recv(fd, k->msg + k->got, size - k->got, 0);
            if (rc < 0 && errno == EAGAIN) continue;
            if (rc <= 0) goto dead;
            k->missed = 0;
            k->deadline = now() + t1 + t2;
            k->got += rc;
            if (k->got < size) continue;
            k->got = 0;
            if (send(fd, k->msg, size, 0) == size) continue;
        dead:
            close(fd);
            free(k->msg);
            free(k);
            conns[fd] = NULL;
        }
        double t = now();
        if (t - swept < 1.0) continue;
        swept = t; /* once a second: the windows that expired */
        for (int fd = 0; fd < max; fd++) {
            struct conn *k = conns[fd];
            if (!k || t < k->deadline) continue;
            k->deadline = t + t2;
            if (++k->missed > 3) { close(fd); free(k->msg); free(k); conns[fd] = NULL; }
        }
    }
}
