/*
 * fuzz_listen_addr.c - LEADSYNC_METRICS_ADDR values through
 * ls_http_parse_addr, with a roomy and a tight host buffer.
 *
 * Checks beyond "no crash": a parse gives a port in 0..65535 and a host that
 * fits its buffer, holds no bracket and formats back ("[v6]:port" when it
 * has a colon, "host:port" otherwise) into an address that parses to the
 * same host and port; a host with a colon came in brackets (a bare
 * "::1:9090" is refused as ambiguous); a failure leaves an empty host,
 * port 0 and a message.
 */
#include "ls_http_server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

static void one(const char *addr, size_t hostlen)
{
    char host[300], again[300], text[400];
    int port = -1, port2 = -1;

    if (ls_http_parse_addr(addr, host, hostlen, &port) != 0) {
        check(host[0] == '\0' && port == 0 && ls_error_last()[0] != '\0');
        return;
    }
    check(port >= 0 && port <= 65535);
    check(memchr(host, '\0', hostlen) != NULL && !strpbrk(host, "[]"));
    /* a host with a colon (IPv6) came in brackets: a bare one is ambiguous */
    check(!strchr(host, ':') || addr[0] == '[');
    snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    check(ls_http_parse_addr(text, again, sizeof(again), &port2) == 0);
    check(port2 == port && strcmp(again, host) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *addr;

    if (size > 280)
        return 0;
    addr = malloc(size + 1);
    check(addr != NULL);
    memcpy(addr, data, size);
    addr[size] = '\0';
    one(addr, 256);
    one(addr, 16);
    free(addr);
    return 0;
}
