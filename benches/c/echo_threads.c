/* echo_threads.c — written for the benchmark: seed 000's hb_server loop (select with a
 * T1 + T2 timeout, recv into the message until it is whole, send it back, count missed
 * heartbeats) run on one thread per client, the C a student would write to serve many.
 * usage: echo_threads PORT MSGSIZE IDLE INTERVAL   (prints "listening PORT" once ready) */
#include "listen.h"
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static int size = 2004, t1 = 1, t2 = 1;

static void *serve(void *arg) {
    int c = (int)(long)arg, missed = 0, cnt = size;
    char *msg = malloc(size);
    struct timeval tv = {t1 + t2, 0};
    for (;;) {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(c, &rd);
        int rc = select(c + 1, &rd, NULL, NULL, &tv);
        if (rc < 0) break;
        if (rc == 0) {
            if (++missed > 3) break; /* connection dead */
            tv.tv_sec = t2;
            continue;
        }
        rc = recv(c, msg + size - cnt, cnt, 0);
        if (rc <= 0) break; /* client terminated */
        missed = 0;
        tv.tv_sec = t1 + t2;
        tv.tv_usec = 0;
        cnt -= rc;
        if (cnt > 0) continue;
        cnt = size;
        if (send(c, msg, size, 0) != size) break;
    }
    free(msg);
    close(c);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 2) size = atoi(argv[2]);
    if (argc > 4) { t1 = atoi(argv[3]); t2 = atoi(argv[4]); }
    int s = listen_loopback(argc > 1 ? argv[1] : NULL, 4096);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 128 * 1024);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        pthread_t t;
        if (pthread_create(&t, &at, serve, (void *)(long)c)) close(c);
    }
}
