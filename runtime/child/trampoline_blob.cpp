// runtime/child/trampoline_blob.cpp: the exec trampoline's bytes (exec_trampoline.c, built by
// runtime/CMakeLists.txt) inside vsrv, as vsrv_trampoline_start..vsrv_trampoline_end. Empty
// where it is not built (then exec re-executes vsrv instead: runtime/exec_guard.h).
#ifdef VSRV_TRAMPOLINE_FILE
__asm__(".section .rodata\n"
        ".balign 16\n"
        ".global vsrv_trampoline_start\n"
        ".hidden vsrv_trampoline_start\n"
        "vsrv_trampoline_start:\n"
        ".incbin \"" VSRV_TRAMPOLINE_FILE "\"\n"
        ".global vsrv_trampoline_end\n"
        ".hidden vsrv_trampoline_end\n"
        "vsrv_trampoline_end:\n"
        ".previous\n");
#else
__asm__(".section .rodata\n"
        ".global vsrv_trampoline_start\n"
        ".hidden vsrv_trampoline_start\n"
        "vsrv_trampoline_start:\n"
        ".global vsrv_trampoline_end\n"
        ".hidden vsrv_trampoline_end\n"
        "vsrv_trampoline_end:\n"
        ".previous\n");
#endif
