#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Read what a rig boot left behind and say whether it passed.

Inputs, all in the boot's output directory:
  console.log  the kernel console: KUnit's KTAP (parsed by the kernel's own
               tools/testing/kunit/kunit.py parse) and any kernel report;
  tests.log    the guest's test stream: the rig's TAP documents and the
               kselftest runner's (one program per test, its harness output
               nested behind "# ");
  host-files   "BDF PATH" of each ivshmem backing file, which the host checks
               against the "vfio-p2p-host-expect" lines the tests printed.

--tap LABEL=FILE and --also LABEL=DIR add a TAP document the host wrote and
another boot's directory (rig/dkms.sh: the DKMS install and the boot of
Debian's kernel), judged the same way, their suites named LABEL: ....

Prints one summary line per suite and ends with the plain
"N passed, N failed, N skipped".  Exits 1 when a test failed, a kernel report
appeared (the hung-task, soft-lockup and workqueue-lockup detectors
included), the guest dumped its stacks (a test or the boot ran out of time:
rig/guest/dump), the guest did not finish (timeout, panic) or no test ran
at all.
"""
import argparse
import json
import os
import re
import subprocess
import sys

REPORT = re.compile(
    r'(BUG:|WARNING:|KASAN:|UBSAN:|Kernel panic|Oops|general protection fault|'
    r'kernel BUG at|possible circular locking|possible recursive locking|'
    r'inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|'
    r'unreferenced object 0x|ODEBUG:|Call Trace:|list_add corruption|'
    r'list_del corruption|refcount_t:|soft lockup|hard LOCKUP|'
    r'workqueue lockup|rcu: INFO: .* detected stalls|'
    r'self-detected stall)')
# A task listing (sched_show_task(): sysrq-w in the rig's own dumps, or a
# hung-task report, which counts by its INFO line) prints "task:NAME
# state:X ..." and then the task's "Call Trace:": that trace alone is no
# report.  The rig's dumps (rig/guest/dump) are listed by their begin lines.
TASK_HEADER = re.compile(r'\btask:\S.* state:[A-Z]')
CALL_TRACE = re.compile(r'Call Trace:')
DUMP_BEGIN = re.compile(r'rig: stack dump begin: (.*)')
TAP_RESULT = re.compile(r'^(not ok|ok)\s+\d+\s+(.*?)(\s+#\s*(.*))?$')
HOST_EXPECT = re.compile(
    r'vfio-p2p-host-expect: bdf=(\S+) offset=(0x[0-9a-f]+) len=(\d+) fnv1a64=(0x[0-9a-f]+)')


class Suite:
    def __init__(self, name):
        self.name = name
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def add(self, status, name):
        if status == 'pass':
            self.passed += 1
        elif status == 'skip':
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(name)

    def total(self):
        return self.passed + self.failed + self.skipped


def tap_status(ok, directive):
    d = (directive or '').strip().upper()
    if d.startswith('SKIP'):
        return 'skip'
    if d.startswith('XFAIL'):
        return 'pass'
    return 'pass' if ok == 'ok' else 'fail'


# Our KUnit suites, by the config symbol that builds them.  Only these count
# in the summary; any other suite in the console (the upstream list, hlist
# and klist suites that CONFIG_LIST_KUNIT_TEST brings, there to show that the
# parsing works on the stock tree too) is named but not counted.  A suite
# whose symbol is set in the booted kernel's .config and that did not run
# is a failure.
OUR_SUITES = {
    'CONFIG_VFIO_P2P_KUNIT_TEST': ['vfio_p2p_vma', 'vfio_p2p_vma_op', 'vfio_p2p_track'],
    'CONFIG_VFIO_P2P_TEST_IOMMU_KUNIT_TEST': ['vfio_p2p_test_iommu'],
    'CONFIG_IOMMUFD_P2P_KUNIT_TEST': ['iommufd_p2p'],
}


def expected_suites(config):
    """Our suites the kernel built from CONFIG (a .config path) must run."""
    want = []
    if not config or not os.path.exists(config):
        return want
    with open(config) as f:
        on = {l.split('=', 1)[0] for l in f if l.rstrip().endswith('=y')}
    for sym, names in OUR_SUITES.items():
        if sym in on:
            want += names
    return want


def parse_kunit(srcdir, console, outdir, suites, config):
    """Run kunit.py parse on the console log; one summary suite per KUnit
    suite of ours, one line naming the others."""
    ours = {n for names in OUR_SUITES.values() for n in names}
    kunit = os.path.join(srcdir, 'tools/testing/kunit/kunit.py')
    js = os.path.join(outdir, 'kunit.json')
    if os.path.exists(js):
        os.unlink(js)
    res = subprocess.run([sys.executable, kunit, 'parse', '--json=' + js, console],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(os.path.join(outdir, 'kunit.txt'), 'w') as f:
        f.write(res.stdout)
    if not os.path.exists(js):
        s = Suite('kunit')
        s.add('fail', 'kunit.py parse found no KTAP output in the console log')
        suites.append(s)
        return []
    with open(js) as f:
        top = json.load(f)

    def leaves(group, prefix):
        for case in group.get('test_cases', []):
            yield prefix + case['name'], case['status']
        for sub in group.get('sub_groups', []):
            yield from leaves(sub, prefix + sub['name'] + '.')

    seen = set()
    others = []
    for group in top.get('sub_groups', []):
        if group['name'] not in ours:
            others.append(group['name'])
            continue
        seen.add(group['name'])
        s = Suite('kunit: ' + group['name'])
        for name, status in leaves(group, ''):
            s.add({'PASS': 'pass', 'SKIP': 'skip'}.get(status, 'fail'), name)
        suites.append(s)
    for case in top.get('test_cases', []):
        # A suite with no cases, or one that crashed before its cases ran.
        if case['name'] not in ours:
            others.append(case['name'])
            continue
        seen.add(case['name'])
        s = Suite('kunit: ' + case['name'])
        s.add({'PASS': 'pass', 'SKIP': 'skip'}.get(case['status'], 'fail'), case['name'])
        suites.append(s)
    for name in expected_suites(config):
        if name not in seen:
            s = Suite('kunit: ' + name)
            s.add('fail', name + ': built in (%s) but did not run' % os.path.basename(config))
            suites.append(s)
    return others


def parse_tests(lines, suites):
    """The guest stream: rig TAP documents and kselftest runner output."""
    rig = Suite('rig')
    prog = None     # the kselftest program whose output we are in
    inner = None    # its harness results
    host_lines = []
    done = False
    for raw in lines:
        line = raw.rstrip('\r\n')
        m = HOST_EXPECT.search(line)
        if m:
            host_lines.append(m.groups())
            continue
        if line.startswith('# rig: done'):
            done = True
            continue
        hdr = re.match(r'^# selftests: (\S+): (\S+)$', line)
        if hdr:
            prog = hdr.group(2)
            inner = Suite('kselftest: ' + hdr.group(1) + '/' + prog)
            continue
        if prog and line.startswith('# '):
            m = TAP_RESULT.match(line[2:])
            if m:
                inner.add(tap_status(m.group(1), m.group(4)), m.group(2))
            continue
        m = TAP_RESULT.match(line)
        if not m:
            continue
        status = tap_status(m.group(1), m.group(4))
        if prog and m.group(2).startswith('selftests:'):
            # The runner's verdict on the whole program.  Without harness
            # results the program counts as one test; a failing verdict
            # (crash, timeout, bad exit) over passing cases is one more failure.
            if inner.total() == 0:
                inner.add(status, prog + (' # ' + m.group(4) if m.group(4) else ''))
            elif status == 'fail' and inner.failed == 0:
                inner.add('fail', prog + ' exit status: ' + (m.group(4) or ''))
            suites.append(inner)
            prog = inner = None
            continue
        rig.add(status, m.group(2))
    if prog:
        inner.add('fail', prog + ': output ends before its result (guest died?)')
        suites.append(inner)
    suites.insert(0, rig)
    return host_lines, done


def check_host(host_lines, files, suites):
    s = Suite('host: ivshmem backing file')
    # What a test announced last for a range wins over anything earlier
    # that overlaps it.
    last = {}
    for bdf, off, length, fnv in host_lines:
        off, length = int(off, 16), int(length)
        for key in [k for k in last if k[0] == bdf and k[1] < off + length
                    and off < k[1] + last[k][0]]:
            del last[key]
        last[(bdf, off)] = (length, int(fnv, 16))
    for (bdf, off), (length, fnv) in sorted(last.items()):
        name = '%s offset 0x%x, %d bytes' % (bdf, off, length)
        path = files.get(bdf)
        if not path:
            s.add('fail', name + ': no backing file for this device')
            continue
        with open(path, 'rb') as f:
            f.seek(off)
            data = f.read(length)
        h = 0xcbf29ce484222325
        for b in data:
            h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
        s.add('pass' if len(data) == length and h == fnv else 'fail', name)
    if s.total():
        suites.append(s)


def scan_console(clines):
    """Kernel report lines and the rig's stack dumps in a console log."""
    reports = []
    dumps = []
    since_task = None   # lines since the last task listing's header
    for n, l in enumerate(clines, 1):
        m = DUMP_BEGIN.search(l)
        if m:
            dumps.append((n, m.group(1).strip()))
            continue
        if TASK_HEADER.search(l):
            since_task = 0
            continue
        if since_task is not None:
            since_task += 1
        if CALL_TRACE.search(l) and since_task is not None and since_task <= 3:
            since_task = None
            continue
        if REPORT.search(l):
            reports.append(l)
    return reports, dumps


def judge(out, qemu_status, kunit, srcdir, config, label=''):
    """One boot's suites, KUnit suites not ours, reports, dumps, problems."""
    console = os.path.join(out, 'console.log')
    with open(console, errors='replace') as f:
        clines = f.read().splitlines()
    with open(os.path.join(out, 'tests.log'), errors='replace') as f:
        tlines = f.read().splitlines()
    files = {}
    hf = os.path.join(out, 'host-files')
    if os.path.exists(hf):
        for line in open(hf):
            bdf, path = line.split()
            files[bdf] = path

    suites = []
    others = []
    if kunit:
        others = parse_kunit(srcdir, console, out, suites, config)
    host_lines, done = parse_tests(tlines, suites)
    check_host(host_lines, files, suites)
    reports, dumps = scan_console(clines)
    problems = []
    if reports:
        problems.append('%d kernel report line(s) in the console log, first: %s'
                        % (len(reports), reports[0].strip()))
    if qemu_status == 124:
        problems.append('the boot timed out')
    elif qemu_status != 0:
        problems.append('QEMU exited with status %d' % qemu_status)
    if not done:
        problems.append('the guest did not reach the end of its run')
    if dumps:
        problems.append('the guest dumped its stacks %d time(s): a test or the boot ran out '
                        'of time (see "rig: stack dump begin" in %s)' % (len(dumps), console))
    if label:
        for su in suites:
            su.name = label + ': ' + su.name
        problems = [label + ': ' + p for p in problems]
        reports = [label + ': ' + r.strip() for r in reports]
        dumps = [(n, label + ': ' + why) for n, why in dumps]
    return suites, others, reports, dumps, problems


def tap_file(label, path):
    """A TAP document the host wrote (rig/dkms.sh check) as one suite."""
    s = Suite(label)
    if not os.path.exists(path):
        s.add('fail', path + ' is missing')
        return s
    for line in open(path, errors='replace'):
        m = TAP_RESULT.match(line.rstrip('\n'))
        if m:
            s.add(tap_status(m.group(1), m.group(4)), m.group(2))
    if not s.total():
        s.add('fail', path + ' holds no result')
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--srcdir', required=True, help='kernel tree (for kunit.py)')
    ap.add_argument('--out', required=True, help='the boot output directory')
    ap.add_argument('--qemu-status', type=int, default=0)
    ap.add_argument('--no-kunit', action='store_true')
    ap.add_argument('--config', help="the booted kernel's .config: which of our KUnit suites must run")
    ap.add_argument('--tap', action='append', default=[], metavar='LABEL=FILE',
                    help='also count the TAP document FILE, as suite LABEL')
    ap.add_argument('--also', action='append', default=[], metavar='LABEL=DIR',
                    help='also count the boot in DIR (no KUnit; its QEMU status in '
                         'DIR/qemu-status), its suites named LABEL: ...')
    args = ap.parse_args()

    suites, others, reports, dumps, problems = judge(
        args.out, args.qemu_status, not args.no_kunit, args.srcdir, args.config)
    for spec in args.tap:
        label, path = spec.split('=', 1)
        suites.append(tap_file(label, path))
    for spec in args.also:
        label, out = spec.split('=', 1)
        try:
            status = int(open(os.path.join(out, 'qemu-status')).read())
        except (OSError, ValueError):
            status = -1
        if not os.path.exists(os.path.join(out, 'tests.log')):
            s = Suite(label)
            s.add('fail', 'no boot in ' + out)
            suites.append(s)
            continue
        more = judge(out, status, False, args.srcdir, None, label)
        suites += more[0]
        reports += more[2]
        dumps += more[3]
        problems += more[4]

    print()
    print('==== summary (%s) ====' % args.out)
    width = max([len(s.name) for s in suites] + [10])
    for s in suites:
        print('%-*s  %3d passed, %d failed, %d skipped'
              % (width, s.name, s.passed, s.failed, s.skipped))
        for f in s.failures:
            print('%-*s    FAILED: %s' % (width, '', f))
    if others:
        print('KUnit suites not ours, not counted: ' + ', '.join(others))
    print('kernel reports: %s' % ('none' if not reports else ''))
    for l in reports[:20]:
        print('    ' + l.strip())
    for n, why in dumps:
        print('rig: stacks dumped at console.log:%d (%s)' % (n, why))
    for p in problems:
        print('rig: ' + p)
    passed = sum(s.passed for s in suites)
    failed = sum(s.failed for s in suites)
    skipped = sum(s.skipped for s in suites)
    if passed + failed == 0:
        problems.append('no test ran')
        print('rig: no test ran')
    print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
    sys.exit(1 if failed or problems else 0)


if __name__ == '__main__':
    main()
