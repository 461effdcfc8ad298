#!/usr/bin/env python3
"""bench/user_time.py: vsrv's user-space CPU per `run`, by function (inclusive), from perf.

    perf record -e cpu-clock:u -F HZ -a --call-graph dwarf,65528 -o DATA -- <N runs of vsrv run>
    perf script -i DATA --comm vsrv -F comm,tid,ip,sym | bench/user_time.py --runs N --hz HZ

Each sample counts once for every function on its stack, so a line is the time spent in that
function and all it called, in microseconds per run (every vsrv task of the run together: the
process, its helpers and the init until it becomes the trampoline). bench/profile.sh runs it.
Standard library only.
"""
import argparse
import collections
import re
import sys

DEFAULT = (r"^(main|__libc_start_main|handle_amd|_dl_relocate_static_pie|std::ios_base::Init::Init|"
           r"vsrv::|CLI::App::(parse|App)$|JSON::(parse|dump))")


def short(sym):
    sym = re.sub(r"nlohmann::json_abi_v[0-9_]+::basic_json<.*?> >", "JSON", sym)
    sym = sym.replace("std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >", "string")
    sym = re.sub(r"\(.*$", "", sym.replace(" (inlined)", ""))
    sym = re.sub(r"<.*$", "", sym) if sym.startswith("JSON::") else sym
    return sym[:80]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--hz", type=int, required=True)
    ap.add_argument("--comm", default="vsrv")
    ap.add_argument("--match", default=DEFAULT, help="regex of the functions to list")
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    samples, cur = [], None
    for line in sys.stdin:
        if line and not line[0].isspace():
            if cur is not None:
                samples.append(cur)
            cur = [] if line.split()[0] == a.comm else None
        elif cur is not None and line.strip():
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                cur.append(short(parts[1]))
    if cur is not None:
        samples.append(cur)
    us = 1e6 / a.hz / a.runs
    print(f"{a.comm}: {len(samples) * us:.0f} us of user-space CPU per run ({len(samples)} samples)")
    inc = collections.Counter()
    for st in samples:
        for f in set(st):
            inc[f] += 1
    shown = 0
    for f, n in inc.most_common():
        if re.search(a.match, f):
            print(f"  {n * us:6.0f} us/run  {f}")
            shown += 1
            if shown >= a.top:
                break


if __name__ == "__main__":
    main()
