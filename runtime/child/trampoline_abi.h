/* runtime/child/trampoline_abi.h: what `vsrv exec`'s child and the exec trampoline
 * (exec_trampoline.c) agree on: the trampoline's argv and the one handshake message it can send.
 * Plain C: the trampoline is a freestanding C program with no libc. docs/security.md says why the
 * trampoline exists (the CVE-2019-5736 class without a second start of vsrv). */
#ifndef VSRV_TRAMPOLINE_ABI_H
#define VSRV_TRAMPOLINE_ABI_H

/* argv of the trampoline; the target's own argv follows from VSRV_TR_ARGV on, then NULL.
 * Numbers are decimal. The target's environment is the trampoline's. */
#define VSRV_TR_NAME 0        /* "vsrv-exec" */
#define VSRV_TR_CHANNEL 1     /* the handshake socket: marked close-on-exec, used on failure */
#define VSRV_TR_FILTER_FD 2   /* a memfd holding sock_filter[len], or -1 for no filter */
#define VSRV_TR_FILTER_LEN 3  /* instructions in it */
#define VSRV_TR_FILTER_FLAGS 4 /* seccomp(SECCOMP_SET_MODE_FILTER) flags */
#define VSRV_TR_FIFO_FD 5     /* a container's init: O_PATH fd of exec.fifo to wait on; -1 for an
                                 exec; VSRV_TR_INIT_NO_FIFO for an init that nothing needs to
                                 `start` (run): say ChildReady, do not wait */
#define VSRV_TR_EXE 6         /* the executable, as the child resolved it */
#define VSRV_TR_ARGV 7
#define VSRV_TR_INIT_NO_FIFO (-2)
#define VSRV_TR_NUM_SIZE 24   /* room for one number slot, filled in by the child */

/* The Error and ChildReady messages of runtime/sync.h (WireMsg), as plain C. sync.cpp checks the layout and
 * values match (static_assert). */
struct vsrv_tr_wire_msg {
  unsigned int type;   /* Msg::Error */
  int errnum;
  unsigned int step;   /* Step::Seccomp or Step::Exec */
  long long value;
  char text[232];
};
#define VSRV_TR_MSG_CHILD_READY 7
#define VSRV_TR_MSG_ERROR 9
#define VSRV_TR_STEP_SECCOMP 15
#define VSRV_TR_STEP_FIFO 19
#define VSRV_TR_STEP_EXEC 20
#define VSRV_TR_STEP_START 0

/* Exit codes (as child_main.h: kSetupFailed, kExecFailed). */
#define VSRV_TR_SETUP_FAILED 125
#define VSRV_TR_EXEC_FAILED 127

#endif
