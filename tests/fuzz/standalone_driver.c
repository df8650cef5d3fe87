/*
 * standalone_driver.c - replays a fuzz corpus through LLVMFuzzerTestOneInput
 * without libFuzzer, so every committed input runs under gcc and the
 * sanitizers in ctest. Arguments are files or directories.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    int rc = -1;

    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto done;
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        goto done;
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    rc = 0;
done:
    free(buf);
    fclose(f);
    return rc;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, int *count)
{
    struct stat st;
    DIR *d = NULL;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, i;
    int rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "no such corpus: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    d = opendir(path);
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char *full;
        size_t len;

        if (de->d_name[0] == '.')
            continue;
        len = strlen(path) + strlen(de->d_name) + 2;
        full = malloc(len);
        if (!full)
            abort();
        snprintf(full, len, "%s/%s", path, de->d_name);
        names = realloc(names, (n + 1) * sizeof(*names));
        if (!names)
            abort();
        names[n++] = full;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp);
    for (i = 0; i < n; i++) {
        if (run_path(names[i], count) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int count = 0, rc = 0, i;

    for (i = 1; i < argc; i++)
        if (run_path(argv[i], &count) != 0)
            rc = 1;
    if (count == 0) {
        fprintf(stderr, "no corpus inputs found\n");
        return 1;
    }
    printf("replayed %d inputs\n", count);
    return rc;
}
