/* readline_opt.c — written for the benchmark: the buffered readline scheme of seed 000's
 * OPTIMIZE_READLINE (a 1500-byte buffer refilled by one recv, lines copied out to '\n'),
 * reading lines from the socket on fd 0 until EOF. Prints "LINES SECONDS". */
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

static char b[1500];
static char *bp;
static int cnt = 0;

static int readline(int fd, char *out, int len) {
    char *start = out;
    while (--len > 0) {
        if (--cnt <= 0) {
            cnt = recv(fd, b, sizeof b, 0);
            if (cnt <= 0) return cnt;
            bp = b;
        }
        char c = *bp++;
        *out++ = c;
        if (c == '\n') { *out = 0; return out - start; }
    }
    return -1;
}

int main(void) {
    char line[256];
    long lines = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (readline(0, line, sizeof line) > 0) lines++;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%ld %.6f\n", lines, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
