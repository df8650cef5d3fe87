/*
 * azt_jarena.c - a scratch arena for jansson (azt.h, azt_json_arena_begin).
 *
 * jansson allocates each value, each object slot and each string it decodes
 * separately, and grows its token buffer by allocating anew: about 150
 * malloc/free pairs for one table row. Inside a scope those come from the
 * scope's buffer, a bump pointer that is never rewound: a scope is one small
 * document, and everything in it dies with it.
 *
 * The allocator is process-wide (json_set_alloc_funcs), the scope is per
 * thread: a thread with no scope open, or a request the buffer cannot hold,
 * gets malloc; a free of memory that is not inside an open scope's buffer
 * goes to free(). So values made before the allocator was installed, or
 * outside any scope, are freed as they always were.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#define ALIGN 16

static _Thread_local struct azt_json_arena *top;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void *arena_malloc(size_t n)
{
    struct azt_json_arena *a = top;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    void *p;

    if (!a || need < n || need > sizeof(a->buf) - a->used)
        return malloc(n);
    p = a->buf + a->used;
    a->used += need;
    return p;
}

static int inside(const struct azt_json_arena *a, const void *p)
{
    uintptr_t q = (uintptr_t)p, lo = (uintptr_t)a->buf;

    return q >= lo && q < lo + sizeof(a->buf);
}

static void arena_free(void *p)
{
    const struct azt_json_arena *a;

    for (a = top; a; a = a->prev)
        if (inside(a, p))
            return; /* released with its scope */
    free(p);
}

static void install(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void azt__json_arena_install(void)
{
    pthread_once(&installed, install);
}

void azt_json_arena_begin(struct azt_json_arena *a)
{
    azt__json_arena_install();
    a->used = 0;
    a->prev = top;
    top = a;
}

void azt_json_arena_end(struct azt_json_arena *a)
{
    if (top == a)
        top = a->prev;
}
