// ncursesw, the wide-character curses library (Debian: libncursesw5-dev).
// Swift cannot import function-like macros, so the few this app needs are wrapped
// here as static inline functions.
#ifndef CNCURSESW_SHIM_H
#define CNCURSESW_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <ncursesw/curses.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static inline int shim_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline int shim_a_bold(void) { return (int)A_BOLD; }
static inline int shim_a_dim(void) { return (int)A_DIM; }
static inline int shim_a_reverse(void) { return (int)A_REVERSE; }
static inline int shim_a_underline(void) { return (int)A_UNDERLINE; }
static inline int shim_a_normal(void) { return (int)A_NORMAL; }
static inline unsigned long shim_wheel_up_mask(void) { return (unsigned long)BUTTON4_PRESSED; }
#ifdef BUTTON5_PRESSED
static inline unsigned long shim_wheel_down_mask(void) { return (unsigned long)BUTTON5_PRESSED; }
#else
static inline unsigned long shim_wheel_down_mask(void) { return 0; }
#endif
static inline int shim_key_code_yes(void) { return KEY_CODE_YES; }
static inline int shim_key_f(int n) { return KEY_F(n); }
static inline int shim_attrset(int attrs) { return attrset(attrs); }
static inline int shim_getmaxx(void) { return getmaxx(stdscr); }
static inline int shim_getmaxy(void) { return getmaxy(stdscr); }

// Restoring the terminal when the process dies of a signal (a crash): switch off
// bracketed paste and mouse reporting, leave the alternate screen, show the cursor,
// put back the terminal modes saved at start, then die of the same signal. Written
// in C so the handler uses only async-signal-safe calls (write, tcsetattr, raise).
// The saved modes live in function-local statics: Swift emits a header's inline
// functions but not its file-scope variables.
static inline struct termios *shim_saved_termios(void) {
    static struct termios saved;
    return &saved;
}
static inline int *shim_have_saved_termios(void) {
    static int have = 0;
    return &have;
}

static void shim_crash_handler(int sig) {
    static const char reset[] = "\033[?2004l\033[?1000l\033[?1006l\033[?1049l\033[?25h\033[0m\r\n";
    ssize_t ignored = write(1, reset, sizeof reset - 1);
    (void)ignored;
    if (*shim_have_saved_termios()) tcsetattr(0, TCSANOW, shim_saved_termios());
    signal(sig, SIG_DFL);
    raise(sig);
}

static inline void shim_install_crash_restore(void) {
    if (tcgetattr(0, shim_saved_termios()) == 0) *shim_have_saved_termios() = 1;
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction a;
        memset(&a, 0, sizeof a);
        a.sa_handler = shim_crash_handler;
        sigemptyset(&a.sa_mask);
        a.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &a, 0);
    }
}
#endif
