/* listen.h — shared by the benchmark's C servers: a TCP socket on 127.0.0.1:PORT (0: any
 * free port) with SO_REUSEADDR, listening with BACKLOG; prints "listening PORT" on stdout
 * once ready, which is how `make bench` learns the port. Exits 1 if it cannot. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int listen_loopback(const char *port, int backlog) {
    int on = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port ? atoi(port) : 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, backlog)) {
        perror("bind/listen");
        exit(1);
    }
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    printf("listening %d\n", ntohs(a.sin_port));
    fflush(stdout);
    return s;
}
