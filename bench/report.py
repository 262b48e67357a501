"""bench/run's report: results.md (tables with ratios to the raw token rate of the same run,
the machine) and throughput.svg (operations per second against clients), from the figures
bench/run collected.

    report.py RESULTS_TSV MACHINE_TSV OUT_DIR

RESULTS_TSV lines: kind bits records audit clients rate p99_ms raw_rate offered_rate
scheduled_p99_ms fsync_rate cpu_us load_cpu_us raw_cpu_us ('-' where not applicable; trailing
ones may be left out). kind is
  raw-decrypt, raw-encrypt  the token alone (bits, clients = threads, rate; cpu_us: the
                 process's CPU time per operation);
  naive          the naive release path (bits, clients = threads, rate);
  GET, PUT       through the daemon (raw_rate: the token's raw rate, decrypt for GET, encrypt
                 for PUT, on as many threads, measured right before the figure, raw_cpu_us its
                 CPU time per operation; cpu_us and load_cpu_us: the daemon's and wrk's CPU
                 time per request answered; for PUT, fsync_rate: fdatasync'd appends/s on disk
                 on as many threads, right before);
  GET-paced      GET at a fixed offered_rate over `clients` connections (open loop): rate is
                 the achieved rate, p99_ms wrk's (from each send), scheduled_p99_ms from each
                 request's scheduled time, raw_rate the raw 1-thread decrypt rate measured
                 right before;
  alive          GET /alive (the daemon's HTTP ceiling: no token, no database; cpu_us and
                 load_cpu_us as for GET);
  fsync          fdatasync'd ~300-byte appends/s on `audit` (disk or tmpfs), clients = threads.
"""

import math
import sys
from pathlib import Path

AUDIT_NAMES = {"disk": "on disk", "tmpfs": "on tmpfs"}
# A paced run that achieved less than this share of its offered rate was not at the load it
# names.
PACING_HELD = 0.95


def read_results(path):
    def number(field, kind=float):
        return None if field == "-" else kind(field)

    rows = []
    for line in Path(path).read_text().splitlines():
        (kind, bits, records, audit, clients, rate, p99, raw, offered, scheduled, fsync, cpu,
         load_cpu, raw_cpu) = (line.split("\t") + ["-"] * 14)[:14]
        rows.append({"kind": kind, "bits": number(bits, int), "records": records,
                     "audit": audit, "clients": int(clients), "rate": float(rate),
                     "p99": number(p99), "raw": number(raw), "offered": number(offered),
                     "scheduled": number(scheduled), "fsync": number(fsync),
                     "cpu": number(cpu), "load_cpu": number(load_cpu),
                     "raw_cpu": number(raw_cpu)})
    return rows


def read_machine(path):
    machine, rss, ready = {}, {}, {}
    for line in Path(path).read_text().splitlines():
        fields = line.split("\t")
        if fields[0] == "rss":
            rss[fields[1]] = int(fields[2])
        elif fields[0] == "ready":
            ready[fields[1]] = int(fields[2])
        else:
            machine[fields[0]] = fields[1]
    return machine, rss, ready


def common_store(rows):
    """The record count most figures were measured with (the one every key size has)."""
    counts = [r["records"] for r in rows if r["records"] != "-"]
    return max(set(counts), key=counts.count) if counts else None


def find(rows, kind, **fields):
    """The first row of `kind` whose fields match, or None."""
    for row in rows:
        if row["kind"] == kind and all(row[k] == v for k, v in fields.items()):
            return row
    return None


def durable_bound(rows, audit, clients, disk_rate=None):
    """PUTs/s the durable writes allow at `clients`: the SQLite commit (fdatasync on disk) and
    then the audit append (fdatasync on the audit log's file system), in series. disk_rate:
    the disk's appends/s measured right before a PUT figure, else the sweep's."""
    def sweep(place):
        row = find(rows, "fsync", audit=place, clients=clients)
        return row["rate"] if row else None

    disk = disk_rate or sweep("disk")
    log = disk if audit == "disk" else sweep(audit)
    if not disk or not log:
        return None
    return 1 / (1 / disk + 1 / log)


def put_bound(rows, row):
    """The lowest of what bounds a PUT at its concurrency: (name, requests/s)."""
    alive = find(rows, "alive", clients=row["clients"])
    bounds = [("raw encrypt", raw_for(rows, row, "raw-encrypt")),
              ("HTTP ceiling", alive["rate"] if alive else None),
              ("durable writes",
               durable_bound(rows, row["audit"], row["clients"], row.get("fsync")))]
    return min(((n, v) for n, v in bounds if v), key=lambda b: b[1])


def main_audit(rows):
    """Where the targets are judged: the audit log on disk, unless the run kept it elsewhere."""
    audits = [r["audit"] for r in rows if r["kind"] == "GET"]
    return "disk" if "disk" in audits or not audits else audits[0]


def raw_for(rows, row, raw_kind):
    """The raw rate a GET or PUT figure is compared with: the one measured right before it,
    else the sweep's at as many threads."""
    if row.get("raw"):
        return row["raw"]
    return find(rows, raw_kind, bits=row["bits"], clients=row["clients"])["rate"]


def ratio(a, b):
    return f"{a / b:.2f}" if b else "—"


def tables(rows, machine, rss, ready):
    bits_list = sorted({r["bits"] for r in rows if r["bits"] is not None})
    clients = sorted({r["clients"] for r in rows if r["kind"] == "raw-decrypt"})
    audit = main_audit(rows)
    records_list = sorted({r["records"] for r in rows if r["records"] != "-"}, key=int)
    small = common_store(rows)
    out = []
    out.append("## The token alone\n")
    out.append(f"RSA-OAEP ({machine.get('oaep', '?')}, the hash the token takes, as the daemon's "
               "probe picks it) of a 32-byte DEK on SoftHSM, one session per thread; naive: "
               "module, session and login for every operation, as Bitwarden's reference Key "
               "Connector does (C_Initialize and C_Finalize are process-wide, so its threads "
               "take turns).\n")
    out.append("| key | threads | raw decrypt/s | raw encrypt/s | naive decrypt/s | naive / raw |")
    out.append("|---|---|---|---|---|---|")
    for bits in bits_list:
        for n in clients:
            d, e, v = (find(rows, k, bits=bits, clients=n)
                       for k in ("raw-decrypt", "raw-encrypt", "naive"))
            out.append(f"| RSA-{bits} | {n} | {d['rate']:.0f} | {e['rate']:.0f} | "
                       f"{v['rate']:.0f} | {ratio(v['rate'], d['rate'])} |")
    for method, raw_kind, raw_name in (("GET", "raw-decrypt", "raw decrypt"),
                                       ("PUT", "raw-encrypt", "raw encrypt")):
        out.append(f"\n## {method} /user-keys through keyconnectord\n")
        out.append(f"wrk, keep-alive, one connection per client, a different user's token per "
                   f"request; {raw_name}/s: the token's raw rate on as many threads, measured "
                   f"right before the figure; ratio = {method} / that.")
        bounded = method == "PUT"
        if bounded:
            out.append("Bound: the lowest of the raw encrypt rate, the daemon's HTTP ceiling and "
                       "the durable-write bound at as many clients (next section; its disk "
                       "fdatasync rate taken right before the figure, as the raw rate is); "
                       "PUT / bound says how close PUT comes to what it can reach.")
        out.append("")
        extra = " bound | PUT / bound |" if bounded else ""
        out.append(f"| key | records | audit log | clients | {method}/s | {raw_name}/s | ratio | "
                   f"p99 |{extra}")
        out.append("|---|---|---|---|---|---|---|---|" + ("---|---|" if bounded else ""))
        for row in rows:
            if row["kind"] != method:
                continue
            raw = raw_for(rows, row, raw_kind)
            line = (f"| RSA-{row['bits']} | {int(row['records']):,} | "
                    f"{AUDIT_NAMES[row['audit']]} | {row['clients']} | {row['rate']:.0f} | "
                    f"{raw:.0f} | {ratio(row['rate'], raw)} | {row['p99']:.1f} ms |")
            if bounded:
                name, value = put_bound(rows, row)
                line += f" {value:.0f} ({name}) | {ratio(row['rate'], value)} |"
            out.append(line)
        if method == "GET":
            out.extend(paced_table(rows))
    out.extend(cpu_table(rows, machine))
    out.extend(bounds_table(rows))

    out.append("\n## Against the targets of issue 14\n")
    out.append("| figure | measured | target |")
    out.append("|---|---|---|")
    where = f"audit {AUDIT_NAMES[audit]}"
    put_bounded = False
    for bits in bits_list:
        gets = [r for r in rows if r["kind"] == "GET" and r["bits"] == bits and
                r["records"] == small and r["audit"] == audit]
        if not gets:
            continue
        worst = min(gets, key=lambda r: r["rate"] / raw_for(rows, r, "raw-decrypt"))
        worst_ratio = worst["rate"] / raw_for(rows, worst, "raw-decrypt")
        out.append(f"| RSA-{bits} GET / raw decrypt, {where}, worst over clients | "
                   f"{worst_ratio:.2f} (at {worst['clients']}) | ≥ 0.90 |")
        paced = find(rows, "GET-paced", bits=bits, records=small, audit=audit)
        if paced:
            single_ms = 1000.0 / paced["raw"]
            measured = f"{paced['p99'] / single_ms:.1f}× ({paced['p99']:.1f} ms) from send"
            if paced["scheduled"] is not None:
                measured += (f"; {paced['scheduled'] / single_ms:.1f}× "
                             f"({paced['scheduled']:.1f} ms) from schedule")
            if paced["rate"] < PACING_HELD * paced["offered"]:
                measured += " — the pacing did not hold: not at half load"
            out.append(f"| RSA-{bits} GET p99 at half the maximum GET/s, paced "
                       f"({paced['offered']:.0f}/s offered, {paced['rate']:.0f}/s achieved, "
                       f"{paced['clients']} connections, {where}) / raw single decrypt "
                       f"({single_ms:.2f} ms) | {measured} | ≤ 3× |")
        puts = [r for r in rows if r["kind"] == "PUT" and r["bits"] == bits and
                r["records"] == small and r["audit"] == audit]
        if puts:
            worst = min(puts, key=lambda r: r["rate"] / raw_for(rows, r, "raw-encrypt"))
            out.append(f"| RSA-{bits} PUT / raw encrypt, {where}, worst over clients | "
                       f"{worst['rate'] / raw_for(rows, worst, 'raw-encrypt'):.2f}"
                       f" (at {worst['clients']}) | ≥ 0.90 |")
            worst = min(puts, key=lambda r: r["rate"] / put_bound(rows, r)[1])
            name, value = put_bound(rows, worst)
            out.append(f"| RSA-{bits} PUT / min(raw encrypt, HTTP ceiling, durable-write bound), "
                       f"{where}, worst over clients | {worst['rate'] / value:.2f} (at "
                       f"{worst['clients']}: bound {value:.0f}/s, {name}) | — (explains the row "
                       "above; see below) |")
            put_bounded = True
    for large in (r for r in records_list if r != small):
        for bits in bits_list:
            for n in clients:
                a = find(rows, "GET", bits=bits, clients=n, records=large, audit=audit)
                b = find(rows, "GET", bits=bits, clients=n, records=small, audit=audit)
                if a and b:
                    out.append(f"| RSA-{bits} GET, {int(large):,} / {int(small):,} records, "
                               f"{n} clients | {ratio(a['rate'], b['rate'])} | ≥ 0.95 |")
    for key in sorted(rss):
        bits, records, audit = key.split("-")
        out.append(f"| peak RSS (VmHWM) under load, RSA-{bits}, {int(records):,} records, audit "
                   f"{AUDIT_NAMES[audit]} | {rss[key] / 1024:.1f} MiB | ≤ 64 MiB at 1,000,000 |")
    login = float(machine.get("login_ms", "0"))
    for key in sorted(ready):
        bits, records, audit = key.split("-")
        out.append(f"| start-up to ready less the token login ({login:.0f} ms), RSA-{bits}, "
                   f"{int(records):,} records, audit {AUDIT_NAMES[audit]} | "
                   f"{ready[key] - login:.0f} ms ({ready[key]} ms in all) | ≤ 300 ms |")
    if put_bounded:
        out.append("\nA PUT cannot be faster than the token's encrypt, the daemon's HTTP ceiling "
                   "(GET /alive at as many connections) or its durable writes (a SQLite commit "
                   "on disk, then the audit record on the audit log's file system, each "
                   "fdatasync'd, in series); PUT / min of the three shows how much of the gap to "
                   "the issue's PUT / raw encrypt target is the daemon's own.")

    out.append("\n## The machine\n")
    out.append("| | |")
    out.append("|---|---|")
    for key, name in (("build", "build"), ("nproc", "nproc"), ("cpu", "CPU"),
                      ("kernel", "kernel"), ("load_start", "load average at start"),
                      ("load_end", "load average at end"), ("seconds", "seconds per figure")):
        out.append(f"| {name} | {machine.get(key, '?')} |")
    out.append("\nThe load generator (wrk), the daemon and the token (SoftHSM, in the daemon's "
               "process) share the machine's cores. Compare ratios measured in one run, not "
               "absolute figures across runs.")
    try:
        # At the end the run's own load is in the figure; at the start only others' is.
        busy = float(machine["load_start"].split()[0]) >= 1
    except (KeyError, ValueError, IndexError):
        busy = False
    if busy:
        out.append("\n**The machine was busy with other work during this run** (load average "
                   "above): the raw rate and the daemon competed with it for the cores, so "
                   "even ratios are noisy; repeat on an idle machine before trusting a figure.")
    return "\n".join(out) + "\n"


def paced_table(rows):
    """GET at a fixed rate of half the maximum measured: p99s against one raw decrypt."""
    paced = [r for r in rows if r["kind"] == "GET-paced"]
    if not paced:
        return []
    out = ["\n### GET at half the maximum, paced\n",
           "After the runs above, wrk at a fixed rate of half the maximum GET/s of the same "
           "configuration: open loop, each connection sending on its own fixed schedule (wrk's "
           "delay() hook, bench/user_keys.lua), the connections' schedules spread evenly; "
           "achieved / offered shows whether the pacing held (below "
           f"{PACING_HELD} the daemon, or wrk on the same cores, could not keep up and the figure "
           "is not at half load). wrk measures latency from when a request was sent, so a request "
           "sent late behind a slow answer does not count its wait (coordinated omission); "
           "\"from schedule\" measures each answer from the time its request was due, which "
           "does. raw single decrypt: 1 / the raw 1-thread decrypt rate, measured right "
           "before.\n",
           "| key | records | audit log | connections | offered/s | achieved/s | achieved / "
           "offered | p99 from send | p99 from schedule | raw single decrypt | p99 / single "
           "(send) | p99 / single (schedule) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in paced:
        single_ms = 1000.0 / r["raw"]
        sched = r["scheduled"]
        out.append(f"| RSA-{r['bits']} | {int(r['records']):,} | {AUDIT_NAMES[r['audit']]} | "
                   f"{r['clients']} | {r['offered']:.0f} | {r['rate']:.0f} | "
                   f"{ratio(r['rate'], r['offered'])} | {r['p99']:.1f} ms | "
                   + (f"{sched:.1f} ms" if sched is not None else "—") +
                   f" | {single_ms:.2f} ms | {r['p99'] / single_ms:.1f}× | "
                   + (f"{sched / single_ms:.1f}×" if sched is not None else "—") + " |")
    return out


def cpu_table(rows, machine):
    """Where each request's CPU time goes: the token's operation, the daemon's own work and
    the load generator's, against what the cores allow."""
    measured = [r for r in rows if r["kind"] in ("GET", "PUT", "alive") and r["cpu"] is not None
                and r["load_cpu"] is not None]
    if not measured:
        return []
    cores = int(machine.get("nproc", "1"))
    out = ["\n### Where a request's CPU time goes\n",
           "User + system CPU time per request answered over each run above: the daemon's (the "
           "token, SoftHSM, runs in its process) and wrk's; token op: the raw rate's CPU time "
           "per operation, measured right before, on as many threads; daemon's own: the "
           "daemon's less the token op. The three share the machine's "
           f"{cores} cores, so once they are busy a request cannot go faster than cores / "
           "(daemon + wrk), and GET / raw cannot exceed token op / (daemon + wrk), the CPU "
           "share of the token's work; token op / (token op + wrk) is that share with a "
           "daemon that spent nothing of its own: the bound this harness sets.\n",
           "| request | key | records | audit log | clients | rate/s | CPU busy | daemon | "
           "token op | daemon's own | wrk | token op / (daemon + wrk) | token op / (token op + "
           "wrk) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in measured:
        busy = r["rate"] * (r["cpu"] + r["load_cpu"]) / 1e6 / cores
        if r["kind"] == "alive":
            out.append(f"| GET /alive | — | — | — | {r['clients']} | {r['rate']:.0f} | "
                       f"{busy:.0%} | {r['cpu']:.0f} µs | — | {r['cpu']:.0f} µs | "
                       f"{r['load_cpu']:.0f} µs | — | — |")
            continue
        token = r["raw_cpu"]
        own = f"{r['cpu'] - token:.0f} µs" if token is not None else "—"
        share = (f"{token / (r['cpu'] + r['load_cpu']):.2f}" if token is not None else "—")
        bound = (f"{token / (token + r['load_cpu']):.2f}" if token is not None else "—")
        out.append(f"| {r['kind']} /user-keys | RSA-{r['bits']} | {int(r['records']):,} | "
                   f"{AUDIT_NAMES[r['audit']]} | {r['clients']} | {r['rate']:.0f} | {busy:.0%} | "
                   f"{r['cpu']:.0f} µs | "
                   + (f"{token:.0f} µs" if token is not None else "—") +
                   f" | {own} | {r['load_cpu']:.0f} µs | {share} | {bound} |")
    return out


def bounds_table(rows):
    """The HTTP ceiling and the durable-write bound, at each concurrency."""
    clients = sorted({r["clients"] for r in rows if r["kind"] in ("alive", "fsync")})
    if not clients:
        return []
    places = [p for p in ("disk", "tmpfs") if find(rows, "fsync", audit=p)]
    audits = [a for a in ("disk", "tmpfs") if any(r["kind"] == "PUT" and r["audit"] == a
                                                  for r in rows)]
    out = ["\n## What else bounds a request\n",
           "Measured once a run, at its start (/alive: with the first daemon). "
           "HTTP ceiling: wrk on GET /alive (no token, no database, no token operation), as many "
           "connections, against the same daemon: no request goes faster with wrk on the same "
           "cores. fdatasync'd appends/s: ~300-byte lines (about an audit record), one file per "
           "thread, each made durable before the next (release_bench fsync). Durable-write "
           "bound: a PUT commits to SQLite (on disk) and then appends its audit record, each "
           "durable before it answers: 1 / (1 / disk + 1 / the audit log's file system). The "
           "daemon's audit log group-commits concurrent records, so at more than one client the "
           "bound is an estimate, not a ceiling.\n"]
    header = "| clients | GET /alive/s | /alive p99 |"
    header += "".join(f" appends/s on {p} |" for p in places)
    header += "".join(f" durable-write bound, audit {AUDIT_NAMES[a]} |" for a in audits)
    out.append(header)
    out.append("|---|---|---|" + "---|" * (len(places) + len(audits)))
    for n in clients:
        alive = find(rows, "alive", clients=n)
        line = (f"| {n} | {alive['rate']:.0f} | {alive['p99']:.1f} ms |" if alive
                else f"| {n} | — | — |")
        for p in places:
            row = find(rows, "fsync", audit=p, clients=n)
            line += f" {row['rate']:.0f} |" if row else " — |"
        for a in audits:
            bound = durable_bound(rows, a, n)
            line += f" {bound:.0f} |" if bound else " — |"
        out.append(line)
    return out


def svg_chart(rows):
    """Operations per second against clients: raw decrypt, raw encrypt, GET and PUT (smallest
    store, audit log on disk), the naive path and GET /alive, one colour per kind, solid for
    the smaller key, dashed for the larger."""
    small = common_store(rows)
    colours = {"raw-decrypt": "#1f77b4", "GET": "#2ca02c", "raw-encrypt": "#9467bd",
               "PUT": "#d62728", "naive": "#7f7f7f", "alive": "#ff7f0e"}
    names = {"raw-decrypt": "raw decrypt", "GET": "GET /user-keys", "raw-encrypt": "raw encrypt",
             "PUT": "PUT /user-keys", "naive": "naive decrypt", "alive": "GET /alive (HTTP)"}
    audit = main_audit(rows)
    bits_list = sorted({r["bits"] for r in rows if r["bits"] is not None})
    series = []
    for kind in colours:
        # /alive has no key size: one series, solid.
        for i, bits in enumerate(bits_list if kind != "alive" else [None]):
            points = sorted((r["clients"], r["rate"]) for r in rows
                            if r["kind"] == kind and r["bits"] == bits and
                            (r["kind"] not in ("GET", "PUT") or
                             (r["records"] == small and r["audit"] == audit)))
            if points:
                name = names[kind] if bits is None else f"{names[kind]}, RSA-{bits}"
                series.append((name, colours[kind], "" if i == 0 else "6,4", points))
    width, height, left, right, top, bottom = 760, 420, 70, 230, 30, 50
    clients = sorted({c for *_, points in series for c, _ in points})
    # A logarithmic axis: the public-key rate is tens of times the private-key one.
    values = [v for *_, points in series for _, v in points if v > 0] or [1]
    ymin = 10 ** math.floor(math.log10(min(values)))
    ymax = 10 ** math.ceil(math.log10(max(values)))
    def x(c):
        if len(clients) == 1:
            return left + (width - left - right) / 2
        span = math.log2(clients[-1]) - math.log2(clients[0])
        return left + (math.log2(c) - math.log2(clients[0])) / span * (width - left - right)

    def y(v):
        share = (math.log10(max(v, ymin)) - math.log10(ymin)) / (math.log10(ymax) -
                                                                   math.log10(ymin))
        return top + (1 - share) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14">Operations per second against clients '
             f'(one run; logarithmic scale)</text>']
    decade = ymin
    while decade <= ymax:
        for v in (decade, 2 * decade, 5 * decade):
            if v > ymax:
                break
            parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" '
                         f'y2="{y(v):.1f}" stroke="{"#bbb" if v == decade else "#eee"}"/>')
            parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" '
                         f'text-anchor="end">{v:g}</text>')
        decade *= 10
    for c in clients:
        parts.append(f'<text x="{x(c):.1f}" y="{height - bottom + 18}" '
                     f'text-anchor="middle">{c}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" '
                 f'text-anchor="middle">clients (threads / connections)</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}" '
                 f'stroke="black"/>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" '
                 f'y2="{height - bottom}" stroke="black"/>')
    for i, (name, colour, dash, points) in enumerate(series):
        path = " ".join(f"{x(c):.1f},{y(v):.1f}" for c, v in points)
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                     f'stroke-width="2"{dashing}/>')
        for c, v in points:
            parts.append(f'<circle cx="{x(c):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + 18 * i
        lx = width - right + 15
        parts.append(f'<line x1="{lx}" x2="{lx + 24}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                     f'stroke-width="2"{dashing}/>')
        parts.append(f'<text x="{lx + 30}" y="{ly + 4}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    rows = read_results(sys.argv[1])
    machine, rss, ready = read_machine(sys.argv[2])
    out = Path(sys.argv[3])
    header = ("# Release benchmark (bench/run)\n\n"
              "GET/PUT /user-keys through keyconnectord (SQLite, audit log with its durable "
              "records) against the raw PKCS#11 rate of the same token, measured in one run. "
              "The daemon has no switch to turn the audit log off: \"audit on tmpfs\" keeps it "
              "on a RAM file system, where its fsync costs nothing.\n\n"
              "![throughput against clients](throughput.svg)\n\n")
    (out / "results.md").write_text(header + tables(rows, machine, rss, ready))
    (out / "throughput.svg").write_text(svg_chart(rows))


if __name__ == "__main__":
    main()
