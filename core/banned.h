/*
 * Functions that are easy to misuse: included last by every .c file of
 * flotilla, it makes them fail to compile (after git's banned.h).
 */
#ifndef FL_BANNED_H
#define FL_BANNED_H

#define FL_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) FL_BANNED(strcpy)
#undef strcat
#define strcat(x, y) FL_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) FL_BANNED(strncpy)
#undef sprintf
#define sprintf(...) FL_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) FL_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) FL_BANNED(strtok)
#undef gmtime
#define gmtime(t) FL_BANNED(gmtime)
#undef localtime
#define localtime(t) FL_BANNED(localtime)

#endif
