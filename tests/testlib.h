/*
 * What unit tests share: running a shell command (git, mkdir, rm) that must
 * succeed, and the git command line that makes commits without touching
 * the user's configuration.
 */
#ifndef FL_TESTLIB_H
#define FL_TESTLIB_H

/* git with an author, a default branch and no signing, whatever ~/.gitconfig says. */
#define FL_TEST_GIT \
	"git -c user.name=Tester -c user.email=tester@example.com -c init.defaultBranch=main" \
	" -c commit.gpgsign=false -c tag.gpgsign=false"

/* Runs the formatted shell command; fails the current test if it does not exit 0. */
void fl_test_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
