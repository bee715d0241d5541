#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn vfio_p2p_bench runs (stock and p2p kernel) into the bench report.

Inputs: the boot output directories of rig/guest-run.sh bench, whose
tests.log holds the program's "bench:" lines and console.log the kernel's:
one or more rounds per kernel, booted alternately (stock, p2p, stock, p2p),
so that a change in host load between two boots shows as a spread between
rounds instead of skewing every ratio.  A row's median and min are over the
samples of all rounds; its spread is the range of the per-round ratios.
The rows whose code the series leaves unchanged (RAM) must come out within
NOISE of 1.0x in every round; a run where they do not is flagged NOISY.
Outputs, in --out:
  bench.csv          one line per row: both kernels' median and min, the
                     ratio, and the profiler's iommu_map() share of MAP_DMA;
  bench-samples.csv  every timed repetition;
  bench.txt          the table printed on stdout;
  bench.png          MAP_DMA time against size, log-log, both kernels
                     (gnuplot; bench.gp and bench-plot.dat are its input).
Exits 1 when a run failed (error, no "bench: done", a kernel report, QEMU
status) or a row is missing on one side; the table is printed anyway.
"""
import argparse
import csv
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the repo
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import REPORT  # noqa: E402  the kernel reports make check fails on

KERNELS = ('stock', 'p2p')
LINE = re.compile(r'^bench: (.*)$')
ROWS = [  # (row, op, label)
    ('bar-untouched', 'map', 'BAR map, untouched'),
    ('bar-touched', 'map', 'BAR map, touched'),
    ('bar-untouched', 'unmap', 'BAR unmap, untouched'),
    ('bar-touched', 'unmap', 'BAR unmap, touched'),
    ('ram', 'map', 'RAM map (populated)'),
    ('ram', 'unmap', 'RAM unmap'),
    ('ram-4k', 'map', 'RAM map, 4 KiB pages'),
    ('ram-4k', 'unmap', 'RAM unmap, 4 KiB pages'),
    ('iommufd-bar-untouched', 'map', 'IOAS_MAP BAR, untouched'),
    ('iommufd-bar-touched', 'map', 'IOAS_MAP BAR, touched'),
    ('iommufd-bar-untouched', 'unmap', 'IOAS_UNMAP BAR, untouched'),
    ('iommufd-bar-touched', 'unmap', 'IOAS_UNMAP BAR, touched'),
    ('iommufd-ram', 'map', 'IOAS_MAP RAM (populated)'),
    ('iommufd-ram', 'unmap', 'IOAS_UNMAP RAM'),
    ('iommufd-ram-4k', 'map', 'IOAS_MAP RAM, 4 KiB pages'),
    ('iommufd-ram-4k', 'unmap', 'IOAS_UNMAP RAM, 4 KiB'),
]
# Rows whose code the series does not change: their ratio is the noise.
# (iommufd's RAM rows are not among them: the series adds a VMA check to
# iommufd's pinning path, which those rows are there to show is cheap.)
UNCHANGED = ('ram', 'ram-4k')
NOISE = 1.25
LINK_ROWS = [  # (row, label, the notifier function that delivers its events)
    ('links-cycle', 'decode off+on cycle', 'mem_update'),
    ('links-release', 'release (last close)', 'last_close'),
]


def parse_run(d):
    """Results, traces, comment lines and problems of one boot."""
    res, trace, bare, notes, problems = {}, {}, {}, [], []
    done = False
    log = os.path.join(d, 'tests.log')
    if not os.path.exists(log):
        return res, trace, bare, notes, ['no %s: the guest never ran' % log]
    with open(log, errors='replace') as f:
        for raw in f:
            line = raw.rstrip('\r\n')
            if line.startswith('# bench: '):
                notes.append(line[9:])
                continue
            m = LINE.match(line)
            if not m:
                continue
            body = m.group(1)
            if body == 'done':
                done = True
                continue
            if body.startswith('error:'):
                problems.append(body)
                continue
            kv = dict(t.split('=', 1) for t in body.split() if '=' in t)
            if 'skipped' in body:
                notes.append(body)
                continue
            if 'refused' in kv:     # a row this kernel cannot do at all
                res[(kv['row'], kv['op'], int(kv['size']))] = {'refused': kv['refused']}
                continue
            key = (kv['row'], kv['op'], int(kv['size']))
            if kv['op'] == 'trace':
                trace[(kv['row'], int(kv['size']))] = {
                    k: int(v) for k, v in kv.items()
                    if k.endswith(('_ns', '_hits')) or k == 'links'}
            else:
                res[key] = {
                    'median': int(kv['median_ns']), 'min': int(kv['min_ns']),
                    'n': int(kv['n']), 'links': int(kv.get('links', 0)),
                    'samples': [int(s) for s in kv['samples_ns'].split(',')]}
    if not done:
        problems.append('the bench did not finish ("bench: done" missing)')
    load = os.path.join(d, 'host-load')
    if os.path.exists(load):
        v = open(load).read().split()
        if len(v) == 7:
            notes.append('host load average (1, 5, 15 min) %s before, %s after the boot; '
                         '%s cores' % (' '.join(v[0:3]), ' '.join(v[3:6]), v[6]))
    console = os.path.join(d, 'console.log')
    if os.path.exists(console):
        with open(console, errors='replace') as f:
            reports = [ln.strip() for ln in f if REPORT.search(ln)]
        if reports:
            problems.append('%d kernel report line(s), first: %s' % (len(reports), reports[0]))
    return res, trace, bare, notes, problems


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) // 2


def merge_rounds(rounds):
    """One kernel's rounds as one run: samples pooled, per-round medians kept."""
    res, trace, bare, notes, problems = {}, {}, {}, [], []
    for i, (r, t, b, n, p) in enumerate(rounds):
        for key, v in r.items():
            if 'refused' in v:
                res.setdefault(key, v)
                continue
            m = res.setdefault(key, {'samples': [], 'links': v['links'], 'rounds': []})
            m['samples'] += v['samples']
            m['rounds'].append(v['median'])
        for key, v in t.items():
            trace.setdefault(key, v)
        for key, v in b.items():
            bare.setdefault(key, v)
        notes += [x for x in n if x not in notes]
        problems += ['round %d: %s' % (i + 1, x) for x in p]
    for v in res.values():
        if 'refused' in v:
            continue
        v['median'] = median(v['samples'])
        v['min'] = min(v['samples'])
        v['n'] = len(v['samples'])
    return res, trace, bare, notes, problems


def round_ratios(st, pp):
    """stock/p2p of each round's medians, rounds paired in boot order."""
    if not st or not pp:
        return []
    return [a / b for a, b in zip(st['rounds'], pp['rounds']) if b]


def size_label(b):
    for unit, shift in (('GiB', 30), ('MiB', 20), ('KiB', 10)):
        if b >= 1 << shift and b % (1 << shift) == 0:
            return '%d %s' % (b >> shift, unit)
    return '%d B' % b


def fmt_ns(ns):
    if ns is None:
        return '-'
    for unit, div in (('s', 1e9), ('ms', 1e6), ('us', 1e3)):
        if ns >= div:
            v = ns / div
            return ('%.0f' if v >= 100 else '%.1f' if v >= 10 else '%.2f') % v + ' ' + unit
    return '%d ns' % ns


def fmt_ratio(r):
    if r is None:
        return '-'
    return ('%.1fx' if r < 10 else '%.0fx') % r


def share_text(v, tr):
    if v is None:
        return 'n/a'
    pct = 100 * v
    return '%s (%d call%s, %s)' % ('%.0f%%' % pct if pct >= 10 else '%.2g%%' % pct,
                                   tr['iommu_map_hits'],
                                   '' if tr['iommu_map_hits'] == 1 else 's',
                                   fmt_ns(tr['iommu_map_ns']))


def share(tr):
    if not tr or not tr.get('ioctl_ns'):
        return None
    return tr['iommu_map_ns'] / tr['ioctl_ns']


LINK_FIELDS = ['links', 'p2p_per_link_ns', 'p2p_per_added_link_ns']
for _k in KERNELS:
    LINK_FIELDS += [_k + '_iotlb_syncs', _k + '_iommu_unmaps', _k + '_iommu_maps',
                    _k + '_iotlb_sync_maps', _k + '_notifier_ns', _k + '_traced_event_ns']

LINKS_NOTE = (
    'Link rows: N links are N MAP_DMAs of one 4 KiB page each, from one mmap of BAR2\'s',
    'first N pages, at contiguous IOVAs (and pfns); then one event of the peer (ivshmem)',
    'with all N mapped: "decode off+on" is two PCI_COMMAND writes through the vfio config',
    'region (DISABLE then ENABLE), timed together; "release" is close() of the peer\'s',
    'device fd, its BAR mmap gone first (RELEASE).  Stock type1 does not track the BAR: it',
    'has no links, nothing to revoke, and its column is the same event without them (a',
    'baseline, not a competitor: no ratio).  "per link": p2p median / N; "per added link":',
    '(median at N - median at the smallest N) / (N - smallest N), constant if the cost is',
    'linear in N.  From one more event per row under the function profiler: "IOTLB syncs",',
    'calls of the IOMMU driver\'s iotlb_sync op (intel_iommu_tlb_sync), per event and, with',
    'the rig\'s one Intel IOMMU, per domain; "unmaps | maps | sync_maps": iommu_unmap()',
    '(and iommu_unmap_fast()) and iommu_map() calls, and iotlb_sync_map op calls (caching',
    'mode flushes after a map); "in notifier": the time in the device notifier',
    '(vfio_device_mem_update(), vfio_device_p2p_last_close()) and its share of that event,',
    'both inflated by the profiler.')


def hits(tr, key):
    """Calls of a profiled function, None when not profiled on that kernel."""
    if not tr or key + '_hits' not in tr:
        return None
    return tr[key + '_hits']


def fmt_signed_ns(ns):
    """A difference of times: noise can make it negative."""
    if ns is None:
        return '-'
    return '-' + fmt_ns(-ns) if ns < 0 else fmt_ns(ns)


def fmt_count(v):
    return 'n/a' if v is None else str(v)


def bare_table(runs, say):
    """MAP_DMA of a BAR on the p2p kernel against its bare iommu_map()."""
    res = runs['p2p'][0]
    keys = sorted({(r, s) for (r, o, s) in res if o == 'bare' and r.startswith('bar-')})
    if not keys:
        return
    null = res.get(('null', 'ioctl', 0))
    hdr = '%-22s %8s  %20s  %20s  %18s  %10s' % ('p2p kernel', 'size', 'MAP_DMA median (min)',
                                                 'bare iommu_map()', 'MAP_DMA/bare (min)',
                                                 'the rest')
    say(hdr)
    say('-' * len(hdr))
    for row, s in keys:
        b = res[(row, 'bare', s)]
        r = res.get((row, 'map', s))
        rest = r['median'] - b['median'] - null['median'] if r and null else None
        say('%-22s %8s  %20s  %20s  %18s  %10s' % (
            'BAR map, ' + row[4:], size_label(s),
            '%s (%s)' % (fmt_ns(r['median']), fmt_ns(r['min'])) if r else '-',
            '%s (%s)' % (fmt_ns(b['median']), fmt_ns(b['min'])),
            '%s (%s)' % (fmt_ratio(r['median'] / b['median']),
                         fmt_ratio(r['min'] / b['min'])) if r else '-',
            fmt_ns(rest) if rest is not None else '-'))
    say('')
    if null:
        say('A null ioctl on the container (VFIO_CHECK_EXTENSION) in the same guest: %s (%s);'
            % (fmt_ns(null['median']), fmt_ns(null['min'])))
        say('"the rest": MAP_DMA median - bare median - null ioctl median, what type1 and the')
        say('tracker add to the page-table writes beyond the cost of any ioctl.')
    for ln in (
            '"bare iommu_map()": the one iommu_map() of the same run (same BAR pfns, same',
            'IOVA, same domain), as many times as the row\'s MAP_DMA, each timed in the kernel',
            'around that call alone (the test IOMMU\'s debugfs vfio-p2p-time-map), untraced,',
            'in the same guest: what a MAP_DMA of the run cannot avoid.  MAP_DMA/bare: what',
            'the rest of the ioctl (lookup, tracking, bookkeeping) adds, as a factor.'):
        say(ln)
    say('')


def links_table(runs, say, problems):
    """The link rows: their table lines (through say) and their CSV rows."""
    rows_csv = []
    todo = [(row, label, nf, sorted({s for k in KERNELS for (r, o, s) in runs[k][0]
                                      if (r, o) == (row, 'event')}))
            for row, label, nf in LINK_ROWS]
    if not any(sizes for _, _, _, sizes in todo):
        return rows_csv
    hdr = ('%-22s %6s  %18s  %18s  %9s  %9s  %13s  %-22s  %s' %
           ('', 'links', 'stock, no links', 'p2p median (min)', 'per link',
            'per added', 'IOTLB syncs', 'p2p unmaps|maps|sync_maps', 'p2p in notifier'))
    say(hdr)
    say('%-22s %6s  %18s  %18s  %9s  %9s  %13s' %
        ('', '', 'median (min)', '', 'p2p', 'link, p2p', 'stock | p2p'))
    say('-' * len(hdr))
    for row, label, nf, sizes in todo:
        base = None
        for s in sizes:
            st = runs['stock'][0].get((row, 'event', s))
            pp = runs['p2p'][0].get((row, 'event', s))
            for k, r in (('stock', st), ('p2p', pp)):
                if not r:
                    problems.append('row %s %d links missing in the %s run' %
                                    (row, s // 4096, k))
            n = (pp or st)['links']
            tr = {k: runs[k][1].get((row, s)) for k in KERNELS}
            per_link = pp['median'] / n if pp and n else None
            per_added = None
            if pp and base and n > base[0]:
                per_added = (pp['median'] - base[1]) / (n - base[0])
            if pp and base is None:
                base = (n, pp['median'])
            unmaps = hits(tr['p2p'], 'iommu_unmap')
            if unmaps is not None and hits(tr['p2p'], 'iommu_unmap_fast'):
                unmaps += hits(tr['p2p'], 'iommu_unmap_fast')
            calls = '%s | %s | %s' % (fmt_count(unmaps), fmt_count(hits(tr['p2p'], 'iommu_map')),
                                      fmt_count(hits(tr['p2p'], 'iotlb_sync_map')))
            nt = 'n/a'
            if tr['p2p'] and nf + '_ns' in tr['p2p'] and tr['p2p'].get('event_ns'):
                nt = '%s (%.0f%%)' % (fmt_ns(tr['p2p'][nf + '_ns']),
                                      100 * tr['p2p'][nf + '_ns'] / tr['p2p']['event_ns'])
            say('%-22s %6d  %18s  %18s  %9s  %9s  %13s  %-22s  %s' % (
                label, n,
                '%s (%s)' % (fmt_ns(st['median']), fmt_ns(st['min'])) if st else '-',
                '%s (%s)' % (fmt_ns(pp['median']), fmt_ns(pp['min'])) if pp else '-',
                fmt_ns(per_link), fmt_signed_ns(per_added),
                '%s | %s' % (fmt_count(hits(tr['stock'], 'iotlb_sync')),
                             fmt_count(hits(tr['p2p'], 'iotlb_sync'))),
                calls, nt))
            c = {'row': row, 'op': 'event', 'size_bytes': s, 'links': n,
                 'p2p_per_link_ns': '%.0f' % per_link if per_link is not None else '',
                 'p2p_per_added_link_ns': '%.0f' % per_added if per_added is not None else ''}
            for k, r in (('stock', st), ('p2p', pp)):
                c[k + '_median_ns'] = r['median'] if r else ''
                c[k + '_min_ns'] = r['min'] if r else ''
                c[k + '_reps'] = r['n'] if r else ''
                t = tr[k]
                um = hits(t, 'iommu_unmap')
                if um is not None and hits(t, 'iommu_unmap_fast'):
                    um += hits(t, 'iommu_unmap_fast')
                for f, v in (('_iotlb_syncs', hits(t, 'iotlb_sync')), ('_iommu_unmaps', um),
                             ('_iommu_maps', hits(t, 'iommu_map')),
                             ('_iotlb_sync_maps', hits(t, 'iotlb_sync_map')),
                             ('_notifier_ns', t.get(nf + '_ns') if t else None),
                             ('_traced_event_ns', t.get('event_ns') if t else None)):
                    c[k + f] = v if v is not None else ''
            rows_csv.append(c)
        if sizes:
            say('')
    return rows_csv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--stock', required=True, nargs='+',
                    help='boot directories of the stock rounds')
    ap.add_argument('--p2p', required=True, nargs='+',
                    help='boot directories of the p2p rounds, as many')
    ap.add_argument('--status', nargs='+', type=int, default=[],
                    help="QEMU's exit status of each boot: stock, p2p, stock, p2p...")
    ap.add_argument('--out', required=True)
    ap.add_argument('--title', default='')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    runs = {}
    problems = []
    if len(args.stock) != len(args.p2p):
        ap.error('as many stock rounds as p2p rounds')
    nrounds = len(args.stock)
    for i, st in enumerate(args.status):
        if st:
            problems.append('%s round %d: QEMU exited with status %d%s' %
                            (KERNELS[i % 2], i // 2 + 1, st,
                             ' (boot timeout)' if st == 124 else ''))
    for k, dirs in zip(KERNELS, (args.stock, args.p2p)):
        runs[k] = merge_rounds([parse_run(d) for d in dirs])
        problems += ['%s: %s' % (k, p) for p in runs[k][4]]

    sizes = {}
    for row, op, _ in ROWS:
        sizes[(row, op)] = sorted({s for k in KERNELS for (r, o, s) in runs[k][0]
                                   if (r, o) == (row, op)})

    out = []
    say = out.append
    say('make bench: VFIO type1 MAP_DMA / UNMAP_DMA and iommufd IOAS_MAP / IOAS_UNMAP, '
        'stock vs p2p kernel, one run of '
        '%d round%s each, booted alternately' % (nrounds, '' if nrounds == 1 else 's') +
        (' (%s)' % args.title if args.title else ''))
    say('The guest runs under QEMU TCG (emulated CPU, no KVM): absolute times are emulated;')
    say('only the stock/p2p ratios within this run count.')
    seen = set()
    for k in KERNELS:
        for n in runs[k][3]:
            if n.startswith(('kernel', 'edu', 'clocksource', 'transparent', 'type1', 'host',
                             'iommufd')) \
                    or 'timed repetitions' in n or 'skipped' in n:
                if k != 'stock' and n in seen:
                    continue
                seen.add(n)
                say('  %-6s %s' % (k + ':', n))
    say('')
    hdr = ('%-25s %8s  %18s  %18s  %15s  %13s  %s' %
           ('', 'size', 'stock median (min)', 'p2p median (min)', 'stock/p2p',
            'round spread', 'in iommu_map(): stock | p2p'))
    say(hdr)
    say('-' * len(hdr))
    rows_csv = []
    noisy_rows = []
    for row, op, label in ROWS:
        for s in sizes[(row, op)]:
            st = runs['stock'][0].get((row, op, s))
            pp = runs['p2p'][0].get((row, op, s))
            if pp and 'refused' in pp:
                problems.append('row %s %s %s refused by the p2p kernel (%s)' %
                                (row, op, size_label(s), pp['refused']))
                pp = None
            refused = st.get('refused') if st else None
            if refused:
                st = None
            elif not st or not pp:
                problems.append('row %s %s %s missing in the %s run' %
                                (row, op, size_label(s), 'stock' if not st else 'p2p'))
            ratio = st['median'] / pp['median'] if st and pp and pp['median'] else None
            ratio_min = st['min'] / pp['min'] if st and pp and pp['min'] else None
            rr = round_ratios(st, pp)
            spread = '%s-%s' % (fmt_ratio(min(rr)), fmt_ratio(max(rr))) if rr else '-'
            noisy = row in UNCHANGED and any(
                r < 1 / NOISE or r > NOISE for r in rr + ([ratio] if ratio else []))
            if noisy:
                noisy_rows.append('%s %s %s: %s (rounds %s)' % (
                    row, op, size_label(s), fmt_ratio(ratio),
                    ', '.join('%.2fx' % r for r in rr)))
            sh = {}
            for k in KERNELS:
                tr = runs[k][1].get((row, s)) if op == 'map' else None
                sh[k] = (share(tr), tr)
            shtxt = ''
            if op == 'map' and not row.startswith('iommufd-'):
                shtxt = ' | '.join(share_text(*sh[k]) for k in KERNELS)
            say('%-25s %8s  %18s  %18s  %15s  %13s  %s' % (
                label, size_label(s),
                '%s (%s)' % (fmt_ns(st['median']), fmt_ns(st['min'])) if st else
                'refused, %s' % refused if refused else '-',
                '%s (%s)' % (fmt_ns(pp['median']), fmt_ns(pp['min'])) if pp else '-',
                '%s (%s)' % (fmt_ratio(ratio), fmt_ratio(ratio_min)),
                spread + (' NOISY' if noisy else ''), shtxt))
            c = {'row': row, 'op': op, 'size_bytes': s, 'stock_refused': refused or ''}
            for k, r in (('stock', st), ('p2p', pp)):
                c[k + '_median_ns'] = r['median'] if r else ''
                c[k + '_min_ns'] = r['min'] if r else ''
                c[k + '_reps'] = r['n'] if r else ''
            c['ratio_median'] = '%.3f' % ratio if ratio is not None else ''
            c['ratio_min'] = '%.3f' % ratio_min if ratio_min is not None else ''
            c['ratio_rounds'] = ';'.join('%.3f' % r for r in rr)
            c['noisy'] = 1 if noisy else ''
            b = runs['p2p'][0].get((row, 'bare', s)) if op == 'map' else None
            if pp and b:
                c['p2p_bare_iommu_map_ns'] = b['median']
                c['p2p_map_over_bare'] = '%.3f' % (pp['median'] / b['median'])
                nl = runs['p2p'][0].get(('null', 'ioctl', 0))
                c['p2p_null_ioctl_ns'] = nl['median'] if nl else ''
            for k in KERNELS:
                v, tr = sh[k]
                c[k + '_iommu_map_share'] = '%.4f' % v if v is not None else ''
                c[k + '_iommu_map_calls'] = tr['iommu_map_hits'] if tr else ''
                c[k + '_traced_map_ns'] = tr['map_ns'] if tr else ''
            rows_csv.append(c)
        if sizes[(row, op)]:
            say('')
    bare_table(runs, say)
    rows_csv += links_table(runs, say, problems)
    for ln in (
            'Median (min) of the timed repetitions, clock_gettime(CLOCK_MONOTONIC) around each',
            'ioctl; stock/p2p: the ratio of the medians (of the mins).  Other work on the host',
            'only adds time, so when it was busy (load above) the mins are the steadier figures.',
            '"in iommu_map()": the share of the MAP_DMA ioctl (vfio_iommu_type1_ioctl) spent in',
            'iommu_map(), writing the IOMMU page tables and syncing, with its calls and time,',
            'from one extra MAP_DMA per row under ftrace\'s function profiler (not one of the',
            'timed ones); the rest is mostly pfn resolution, which stock does per 4 KiB page.',
            'IOAS_MAP and IOAS_UNMAP rows: the same over iommufd (both devices\' cdevs bound to',
            'one iommufd, one IOAS), untraced.  Stock 6.12 refuses a BAR there (EFAULT): no',
            'ratio.  The series adds a VMA check to iommufd\'s RAM path, which its RAM rows show.'):
        say(ln)
    if any(r.get('links') for r in rows_csv):
        for ln in LINKS_NOTE:
            say(ln)

    with open(os.path.join(args.out, 'bench.csv'), 'w', newline='') as f:
        fields = ['row', 'op', 'size_bytes', 'stock_refused']
        for k in KERNELS:
            fields += [k + '_median_ns', k + '_min_ns', k + '_reps']
        fields += ['ratio_median', 'ratio_min', 'ratio_rounds', 'noisy']
        for k in KERNELS:
            fields += [k + '_iommu_map_share', k + '_iommu_map_calls', k + '_traced_map_ns']
        fields += LINK_FIELDS + ['p2p_bare_iommu_map_ns', 'p2p_map_over_bare',
                                  'p2p_null_ioctl_ns']
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows_csv)
    with open(os.path.join(args.out, 'bench-samples.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['kernel', 'row', 'op', 'size_bytes', 'rep', 'ns', 'links'])
        for k in KERNELS:
            for (row, op, s), r in sorted(runs[k][0].items()):
                for i, ns in enumerate(r.get('samples', [])):
                    w.writerow([k, row, op, s, i + 1, ns, r['links'] or ''])
    

    plot_problem = plot(runs, args.out)
    if plot_problem:
        problems.append(plot_problem)
    else:
        say('CSV: %s  plot: %s' % (os.path.join(args.out, 'bench.csv'),
                                   os.path.join(args.out, 'bench.png')))
    if noisy_rows:
        say('rig: bench: NOISY run: rows the series does not change are outside %.2fx of 1.0x, '
            'so the host load changed during the run; its ratios are suspect: %s' %
            (NOISE, '; '.join(noisy_rows)))
    elif nrounds > 1:
        say('rig: bench: the unchanged rows (RAM) are within %.2fx of 1.0x in every round' % NOISE)
    for p in problems:
        say('rig: bench: ' + p)
    text = '\n'.join(ln.rstrip() for ln in out) + '\n'
    with open(os.path.join(args.out, 'bench.txt'), 'w') as f:
        f.write(text)
    sys.stdout.write(text)
    sys.exit(1 if problems else 0)


def plot(runs, outdir):
    """bench.png: MAP_DMA median against size, log-log, both kernels."""
    series = [
        ('stock', 'bar-untouched', 'stock, BAR untouched', 'lc rgb "#c0392b" pt 7'),
        ('stock', 'bar-touched', 'stock, BAR touched', 'lc rgb "#e67e22" pt 5'),
        ('p2p', 'bar-untouched', 'p2p, BAR untouched', 'lc rgb "#1f4e9e" pt 7'),
        ('p2p', 'bar-touched', 'p2p, BAR touched', 'lc rgb "#2aa198" pt 5 dt 2'),
        ('stock', 'ram', 'stock, RAM (populated)', 'lc rgb "#7f7f7f" pt 9'),
        ('p2p', 'ram', 'p2p, RAM (populated)', 'lc rgb "#000000" pt 8 dt 3'),
    ]
    dat = os.path.join(outdir, 'bench-plot.dat')
    idx = []
    with open(dat, 'w') as f:
        for k, row, title, style in series:
            pts = sorted((s, r['median'], r['min']) for (rw, op, s), r in runs[k][0].items()
                         if rw == row and op == 'map')
            if not pts:
                continue
            f.write('# %s\n' % title)
            for s, med, mn in pts:
                f.write('%.6f %.6f %.6f\n' % (s / 2**20, med / 1e6, mn / 1e6))
            f.write('\n\n')
            idx.append((len(idx), title, style))
    if not idx:
        return 'nothing to plot'
    gp = os.path.join(outdir, 'bench.gp')
    png = os.path.join(outdir, 'bench.png')
    with open(gp, 'w') as f:
        f.write('set terminal pngcairo size 1000,700 font "sans,11"\n')
        f.write('set output "%s"\n' % png)
        f.write('set title "VFIO type1 MAP_DMA time against size, stock vs p2p kernel (median)\\n'
                'QEMU TCG guest: absolute times are emulated, only the ratios count" noenhanced\n')
        f.write('set logscale xy\nset grid xtics ytics mytics\n')
        f.write('set xlabel "mapping size"\nset ylabel "MAP_DMA time (ms)" noenhanced\n')
        sizes = sorted({s for k in KERNELS for (rw, op, s) in runs[k][0] if op == 'map'})
        f.write('set xtics (%s)\n' % ', '.join(
            '"%s" %.6f' % (size_label(s), s / 2**20) for s in sizes))
        f.write('set xrange [%.6f:%.6f]\n' % (sizes[0] / 2**20 / 1.5, sizes[-1] / 2**20 * 1.5))
        f.write('set key top left\nset format y "%g"\n')
        f.write('plot ' + ', \\\n     '.join(
            '"%s" index %d using 1:2 with linespoints %s lw 2 title "%s"' % (dat, i, style, t)
            for i, t, style in idx) + '\n')
    if os.path.exists(png):
        os.unlink(png)
    r = subprocess.run(['gnuplot', gp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode or not os.path.exists(png):
        return 'gnuplot failed: %s' % r.stdout.strip()
    return None


if __name__ == '__main__':
    main()
