#include "defence.h"

#include <string.h>

static bool
is_sep(char ch)
{
    return ch == ',' || ch == ' ' || ch == '\t';
}

bool
defence_off(const char *list, const char *name)
{
    if (list == NULL || name == NULL || name[0] == '\0') {
        return false;
    }
    size_t n = strlen(name);
    const char *p = list;
    while (*p != '\0') {
        while (is_sep(*p)) {
            p++;
        }
        const char *w = p;
        while (*p != '\0' && !is_sep(*p)) {
            p++;
        }
        size_t len = (size_t)(p - w);
        if ((len == n && memcmp(w, name, n) == 0) || (len == 3 && memcmp(w, "all", 3) == 0)) {
            return true;
        }
    }
    return false;
}
