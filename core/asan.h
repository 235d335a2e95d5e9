/*
 * FL_ASAN: defined when AddressSanitizer instruments this build (GCC's
 * macro, or clang's feature test). Code that hands memory around malloc
 * (its own mappings, the heap's layout) does not when it is defined, so
 * that ASan sees every allocation.
 */
#ifndef FL_ASAN_H
#define FL_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define FL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_ASAN 1
#endif
#endif

#endif
