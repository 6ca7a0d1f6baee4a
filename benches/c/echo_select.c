/* echo_select.c — written for the benchmark: the shape of seed 000's hb_server loop
 * (select, then recv into the message until it is whole, then send it back), serving one
 * client, so `make bench` can set the port's echo path beside a C one on the same machine.
 * usage: echo_select PORT MSGSIZE   (prints "listening PORT" on stdout once ready) */
#include "listen.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int size = argc > 2 ? atoi(argv[2]) : 2004;
    char *msg = malloc(size);
    int s = listen_loopback(argc > 1 ? argv[1] : NULL, 5);
    int c = accept(s, NULL, NULL);
    if (c < 0) { perror("accept"); return 1; }
    int cnt = size;
    for (;;) {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(c, &rd);
        struct timeval tv = {60, 0};
        if (select(c + 1, &rd, NULL, NULL, &tv) <= 0) return 1;
        int rc = recv(c, msg + size - cnt, cnt, 0);
        if (rc <= 0) return 0;
        cnt -= rc;
        if (cnt > 0) continue;
        cnt = size;
        if (send(c, msg, size, 0) != size) return 1;
    }
}
