#!/usr/bin/python3
"""Trajectory readers against an independent Python parse (bit-exact positions), on 1, 2, 3 ranks.
Usage: test_traj_readers.py cu|formats|bad   (env: TB test binaries, PM_MPIRUN)
Runs $TB/mpi/test_traj_dump, which writes the selected frames in id order to a binary file."""
import gzip, os, re, shutil, struct, subprocess, sys, tempfile
import numpy as np
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TB = os.environ.get("TB", "build/tests")
TB = TB if os.path.isabs(TB) else os.path.join(ROOT, TB)
MPIRUN = os.environ.get("PM_MPIRUN", "mpirun --oversubscribe --bind-to none").split()
TOOL = os.path.join(TB, "mpi", "test_traj_dump")
D = os.path.join(ROOT, "tests", "data", "traj")
CU = os.path.join(ROOT, "tests", "data", "cu")
os.makedirs(os.path.join(ROOT, "tests", "out"), exist_ok=True)
TMP = tempfile.mkdtemp(prefix="traj_tmp_", dir=os.path.join(ROOT, "tests", "out"))  # removed at the end
PAR = 3  # concurrent mpirun launches
npass = nfail = 0


def check(cond, msg):
    global npass, nfail
    if cond:
        npass += 1
    else:
        nfail += 1
        print("not ok:", msg, flush=True)


def run(path, opts=(), n=1, out=None):
    cmd = MPIRUN + ["-n", str(n), TOOL, "-input", path] + list(opts) + (["-out", out] if out else [])
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def read_bin(fn):
    b = open(fn, "rb").read()
    o = 0

    def take(fmt, cnt=1):
        nonlocal o
        a = np.frombuffer(b, dtype=fmt, count=cnt, offset=o)
        o += a.nbytes
        return a

    nf = int(take("<i8")[0]); ns, ne = (int(x) for x in take("<i4", 2))
    names = [take("S32")[0].decode() for _ in range(ns)]
    enames = [take("S64")[0].decode() for _ in range(ne)]
    frames = []
    for _ in range(nf):
        n = int(take("<i8")[0]); step = int(take("<i8")[0])
        lo = take("<f8", 3); h = take("<f8", 9).reshape(3, 3); fl = take("<i4", 4)
        fr = dict(n=n, step=step, lo=lo, h=h, tri=int(fl[0]), per=[int(x) for x in fl[1:]],
                  id=take("<i8", n), sp=take("<i4", n), pos=take("<f8", 3 * n).reshape(n, 3), ex=take("<f8", n * ne).reshape(n, ne))
        frames.append(fr)
    return names, enames, frames


# ---- independent parsers ------------------------------------------------------------------------
def lammps_box(head, lines):
    """Box from ITEM: BOX BOUNDS and its 3 lines (LAMMPS documentation, Howto triclinic)."""
    toks = head.split()[3:]
    b = [[float(x) for x in l.split()] for l in lines]
    flags = [t for t in toks if t not in ("xy", "xz", "yz")]
    per = [1 if f == "pp" else 0 for f in flags] if flags else [1, 1, 1]
    h = np.zeros((3, 3))
    if "abc" in toks:  # general triclinic: rows a, b, c and the origin
        flags = [t for t in toks if t not in ("abc", "origin")]
        h = np.array([x[:3] for x in b])
        return np.array([x[3] for x in b]), h, [1 if f == "pp" else 0 for f in flags], True
    if "xy" in toks:
        xy, xz, yz = b[0][2], b[1][2], b[2][2]
        lo = [b[0][0] - min(0.0, xy, xz, xy + xz), b[1][0] - min(0.0, yz), b[2][0]]
        hi = [b[0][1] - max(0.0, xy, xz, xy + xz), b[1][1] - max(0.0, yz), b[2][1]]
        h[1, 0], h[2, 0], h[2, 1] = xy, xz, yz
    else:
        lo, hi = [x[0] for x in b], [x[1] for x in b]
    for d in range(3):
        h[d, d] = hi[d] - lo[d]
    return np.array(lo), h, per, "xy" in toks


def parse_lammps(path, columns=(), species=None):
    op = gzip.open if path.endswith(".gz") else open
    lines = op(path, "rt").read().split("\n")
    frames, i = [], 0
    while i < len(lines) and lines[i].strip():
        while lines[i] in ("ITEM: UNITS", "ITEM: TIME"):
            i += 2
        assert lines[i] == "ITEM: TIMESTEP"
        step, n = int(lines[i + 1]), int(lines[i + 3])
        lo, h, per, tri = lammps_box(lines[i + 4], lines[i + 5:i + 8])
        cols = lines[i + 8].split()[2:]
        rows = [l.split() for l in lines[i + 9:i + 9 + n]]
        if len(rows) < n or (i + 9 + n >= len(lines)):
            break  # truncated
        i += 9 + n
        c = {name: k for k, name in enumerate(cols)}
        for s in (("x", "y", "z"), ("xu", "yu", "zu"), ("xs", "ys", "zs")):
            if all(x in c for x in s):
                pc = [c[x] for x in s]; scaled = s[0] == "xs"; break
        ids = np.array([int(r[c["id"]]) for r in rows]) if "id" in c else np.arange(1, n + 1)
        pos = []
        for r in rows:
            v = [float(r[k]) for k in pc]
            if scaled:
                v = [lo[d] + v[0] * h[0][d] + v[1] * h[1][d] + v[2] * h[2][d] for d in range(3)]
            pos.append(v)
        ex = [[float(r[c[name]]) for name in columns] for r in rows]
        key = [r[c["type"]] for r in rows] if "type" in c and (species or "element" not in c) else [r[c["element"]] for r in rows]
        frames.append(dict(n=n, step=step, lo=lo, h=h, per=per, tri=tri, id=ids, pos=np.array(pos), ex=np.array(ex).reshape(n, len(columns)), key=key))
    return frames


def parse_xyz(path, props_cols=()):
    lines = open(path).read().split("\n")
    frames, i = [], 0
    while i < len(lines) and lines[i].strip():
        n = int(lines[i]); com = lines[i + 1]
        rows = [l.split() for l in lines[i + 2:i + 2 + n]]
        i += 2 + n
        m = re.search(r'Lattice="([^"]*)"', com)
        h = np.array([float(x) for x in m.group(1).split()]).reshape(3, 3) if m else None
        prop = re.search(r"Properties=(\S+)", com)
        prop = prop.group(1).split(":") if prop else ["species", "S", "1", "pos", "R", "3"]
        c, k = {}, 0
        for j in range(0, len(prop), 3):
            c[prop[j]] = list(range(k, k + int(prop[j + 2]))); k += int(prop[j + 2])
        pos = np.array([[float(r[q]) for q in c["pos"]] for r in rows])
        ex = np.array([[float(r[q]) for name in props_cols for q in c[name]] for r in rows]).reshape(n, -1)
        frames.append(dict(n=n, step=len(frames), h=h, id=np.arange(1, n + 1), pos=pos, ex=ex, key=[r[c["species"][0]] for r in rows]))
    return frames


# ---- comparisons -------------------------------------------------------------------------------------
def compare(tag, got, exp, names, sel=None, box=True):
    gn, ge, gf = got
    sel = list(range(len(exp))) if sel is None else sel
    check(len(gf) == len(sel), f"{tag}: {len(gf)} frames, expected {len(sel)}")
    for g, k in zip(gf, sel):
        e = exp[k]
        o = np.argsort(e["id"], kind="stable")
        check(g["n"] == e["n"] and g["step"] == e["step"], f"{tag} frame {k}: n/step {g['n']},{g['step']} vs {e['n']},{e['step']}")
        check(np.array_equal(g["id"], e["id"][o]), f"{tag} frame {k}: ids (every atom exactly once, in id order)")
        check(np.array_equal(g["pos"], e["pos"][o]), f"{tag} frame {k}: positions not bit-identical (max diff {np.abs(g['pos'] - e['pos'][o]).max() if g['pos'].shape == e['pos'].shape else 'shape'})")
        check(g["ex"].shape == e["ex"].shape and np.array_equal(g["ex"], e["ex"][o]), f"{tag} frame {k}: extra columns")
        want_sp = np.array([names.index(e["key"][j]) for j in o])
        check(np.array_equal(g["sp"], want_sp), f"{tag} frame {k}: species")
        check(gn == names, f"{tag}: species table {gn} vs {names}")
        if box and "lo" in e:
            check(np.array_equal(g["lo"], e["lo"]) and np.array_equal(g["h"], e["h"]) and g["per"] == e["per"] and bool(g["tri"]) == bool(e["tri"]),
                  f"{tag} frame {k}: box lo {g['lo']} h {g['h'].tolist()} per {g['per']} vs {e['lo']} {e['h'].tolist()} {e['per']}")


def good(tag, path, opts, exp, names, ranks=(1, 2, 3), sel=None, extra_names=None, groups=False):
    jobs = [(n, gopt) for n in ranks for gopt in (([], ["-groups", "2"]) if (groups and n > 1) else ([],))]
    outs_f = [os.path.join(TMP, f"{abs(hash(tag))}_{n}{len(g)}.bin") for n, g in jobs]
    with ThreadPoolExecutor(PAR) as ex:  # mpirun start-up dominates: run the rank counts side by side
        res = list(ex.map(lambda j: run(path, list(opts) + j[0][1], j[0][0], j[1]), zip(jobs, outs_f)))
    outs = []
    for (n, gopt), r, out in zip(jobs, res, outs_f):
        check(r.returncode == 0, f"{tag} np={n} {gopt}: exit {r.returncode}: {r.stdout[-500:]} {r.stderr[-800:]}")
        if r.returncode:
            continue
        got = read_bin(out)
        compare(f"{tag} np={n}{' groups' if gopt else ''}", got, exp, names, sel)
        if extra_names is not None:
            check(got[1] == extra_names, f"{tag}: extra column names {got[1]} vs {extra_names}")
        outs.append(open(out, "rb").read())
    check(all(o == outs[0] for o in outs), f"{tag}: output differs between rank counts")
    return outs[0] if outs else None


def test_cu():
    gz = os.path.join(CU, "cu_slab_3456_T1327_small.dump.gz")
    cols = ["q4", "q6", "q8", "q10", "q12", "cna"]
    exp = parse_lammps(gz, cols)
    check(len(exp) == 2 and exp[0]["n"] == 3456, "oracle parse of the Cu file")
    a = good("cu.gz", gz, ["-columns", "q4:q12,cna"], exp, ["1"], groups=True, extra_names=cols)
    plain = os.path.join(TMP, "cu.dump")
    with gzip.open(gz, "rb") as f, open(plain, "wb") as g:
        shutil.copyfileobj(f, g)
    b = good("cu.dump", plain, ["-columns", "q4:q12,cna"], exp, ["1"], ranks=(1, 3), groups=True)
    check(a is not None and a == b, "gz and plain give identical frames")
    odd = os.path.join(TMP, "cu_compressed.dump")  # gzip recognised by content, not by name
    shutil.copy(gz, odd)
    c = good("gz named .dump", odd, ["-columns", "q4:q12,cna"], exp, ["1"], ranks=(2,))
    check(a is not None and a == c, "gzip content detected without the .gz suffix")
    e2 = parse_lammps(gz)
    for f in e2:
        f["key"] = ["Cu"] * f["n"]
    good("cu.gz frames", gz, ["-frames", "1:", "-species", "Cu"], e2, ["Cu"], ranks=(2,), sel=[1])
    for lat in ("fcc", "bcc", "hcp"):
        p = os.path.join(CU, "perfect_lattices", lat + ".dump")
        good(lat, p, ["-columns", "q6"], parse_lammps(p, ["q6"]), ["1"], ranks=(1, 3))


def test_formats():
    tri = os.path.join(D, "tri_scaled.dump")
    exp = parse_lammps(tri, ["c_f[1]", "c_f[2]", "c_f[3]", "v_e"])
    check(len(exp) == 5 and exp[0]["tri"], "oracle: triclinic file")
    good("triclinic scaled", tri, ["-columns", "c_f[1]:c_f[3],v_e"], exp, ["1", "2", "3"], groups=True, extra_names=["c_f[1]", "c_f[2]", "c_f[3]", "v_e"])
    for spec, sel in (("1:4", [1, 2, 3]), ("::2", [0, 2, 4]), ("-1", [4]), ("3:0:-1", [3, 2, 1]), ("-2:", [3, 4]), ("1:100:3", [1, 4])):
        good(f"-frames {spec}", tri, ["-frames", spec, "-columns", "v_e"], parse_lammps(tri, ["v_e"]), ["1", "2", "3"], ranks=(3,), sel=sel)
    gen = os.path.join(D, "general.dump")
    good("general triclinic (abc origin)", gen, [], parse_lammps(gen), ["1"], ranks=(1, 2))
    ti = os.path.join(D, "time_items.dump")
    good("ITEM: UNITS / TIME", ti, [], parse_lammps(ti), ["1"], ranks=(1, 2, 3, 4, 5, 7))
    unw = os.path.join(D, "unwrapped.dump")
    good("unwrapped element", unw, ["-columns", "vx"], parse_lammps(unw, ["vx"]), ["Cl", "Li", "P", "S"])
    good("unwrapped -species", unw, ["-species", "Li,P,S,Cl"], parse_lammps(unw, [], species=None), ["Li", "P", "S", "Cl"], ranks=(2,))
    atom = os.path.join(D, "atom.dump")
    e = parse_lammps(atom, [], species=["A", "B"])
    for f in e:
        f["key"] = ["A" if k == "1" else "B" for k in f["key"]]
    good("dump atom -species", atom, ["-species", "A,B"], e, ["A", "B"])
    ase = os.path.join(D, "ase.extxyz")
    ex = parse_xyz(ase, ["forces", "tags"])
    for f in ex:
        f["lo"], f["per"], f["tri"] = np.zeros(3), [1, 1, 1], True
    good("extxyz", ase, ["-columns", "forces,tags"], ex, ["Au", "Cu", "H"], groups=True, extra_names=["forces[1]", "forces[2]", "forces[3]", "tags"])
    good("extxyz -species -frames", ase, ["-species", "H,Cu,Au", "-frames", "1:", "-columns", "forces,tags"], ex, ["H", "Cu", "Au"], ranks=(2,), sel=[1, 2])
    ic = os.path.join(D, "int_comments.xyz")
    icx = parse_xyz(ic)
    for f in icx:
        f["lo"] = f["pos"].min(axis=0); f["h"] = np.diag(np.maximum(f["pos"].max(axis=0) - f["lo"], 1.0))
        f["per"], f["tri"] = [0, 0, 0], False
    good("xyz integer comments", ic, [], icx, ["C", "O"], ranks=(1, 2, 3, 4, 5, 6, 7))
    mol = os.path.join(D, "molecule.xyz")
    mx = parse_xyz(mol)
    for f in mx:
        f["lo"] = f["pos"].min(axis=0); f["h"] = np.diag(np.maximum(f["pos"].max(axis=0) - f["lo"], 1.0))
        f["per"], f["tri"] = [0, 0, 0], False
    good("plain xyz", mol, [], mx, ["H", "O"])


BAD = [  # file, options, message fragment (regex), ranks
    ("bad_truncated.dump", ["-strict"], r"frame 2 \(line 27\) is truncated", (3,)),
    ("bad_natoms.dump", [], r"frame 2 \(line 27\) has 5 atoms but frame 0 has 4", (3,)),
    ("bad_columns.dump", [], r"frame 0, line 9: missing required columns", (3,)),
    ("bad_props.xyz", [], r"frame 0, line 2: missing required columns: Properties=species:S:1:charge:R:1 needs species:S:1 and pos:R:3", (2,)),
    ("bad_type.dump", ["-species", "Cu"], r"frame 1 \(timestep 10\), line 25: unknown atom type 3", (1, 3)),
    ("bad_type.dump", [], r"frame 1 \(timestep 10\), line 25: unknown atom type 3.*-species", (3,)),
    ("bad_box.dump", [], r"frame 1, line 20: zero or negative box: y from 3\.? to 3", (3,)),
    ("bad_number.dump", [], r"frame 1 \(timestep 10\), line 26: column 'y' value '1\.2\.3' is not a number", (1, 2, 3)),
    ("bad_timestep.dump", [], r"frame 2 \(line 27\): timestep 10 does not follow timestep 10", (3,)),
    ("bad_dupid.dump", [], r"frame 1 \(line 14\): atom id 2 appears more than once", (3,)),
    ("bad_lines.dump", [], r"frame 0 \(line 1\): NUMBER OF ATOMS is 3 but 4 atom lines", (3,)),
    ("bad_count.xyz", [], r"line 9: expected the number of atoms of frame 2 after the 2 atom lines of frame 1 \(line 5\)", (3,)),
    ("bad_truncated.xyz", ["-strict"], r"frame 1 \(line 5\) is truncated", (3,)),
    ("bad_values.dump", [], r"frame 0 \(timestep 0\), line 11: 4 values on the line, expected 5 \(id type x y z\)", (3,)),
    ("bad_colchange.dump", [], r"frame 2 \(line 27\) has other ITEM: ATOMS columns than frame 0", (3,)),
    ("bad_lattice.xyz", [], r"frame 0, line 2: Lattice=\"1 0 0 0 1 0 0 0\" must hold 9 numbers", (2,)),
    ("tri_scaled.dump", ["-frames", "10:20"], r"-frames 10:20 selects none of the 5 complete frames", (3,)),
    ("tri_scaled.dump", ["-columns", "c_f[1]:nope"], r"has no column 'nope'", (3,)),
    ("tri_scaled.dump", ["-columns", "v_e:c_f[1]"], r"give ranges as first:last in file order", (3,)),
    ("no_such_file.dump", [], r"cannot open", (3,)),
]


def test_bad():
    jobs = [(name, opts, frag, n) for name, opts, frag, ranks in BAD for n in ranks]
    with ThreadPoolExecutor(PAR) as ex:
        res = list(ex.map(lambda j: run(os.path.join(D, j[0]), j[1], j[3]), jobs))
    for (name, opts, frag, n), r in zip(jobs, res):
        path = os.path.join(D, name)
        errs = [l for l in r.stderr.splitlines() if l.startswith("phasemap: error:")]
        ok = r.returncode != 0 and len(errs) == 1 and re.search(frag, errs[0]) and path in errs[0]
        check(ok, f"{name} {opts} np={n}: exit {r.returncode}, errors {errs}, want /{frag}/ with the file name; stderr: {r.stderr[-600:]}")
    gz = open(os.path.join(CU, "cu_slab_3456_T1327_small.dump.gz"), "rb").read()
    damaged = bytearray(gz)
    damaged[300000:301000] = bytes(1000)
    open(os.path.join(TMP, "damaged.dump.gz"), "wb").write(damaged)
    open(os.path.join(TMP, "cut.dump.gz"), "wb").write(gz[:700000])  # a job killed while writing
    r = run(os.path.join(TMP, "damaged.dump.gz"), [], 3)
    errs = [l for l in r.stderr.splitlines() if l.startswith("phasemap: error:")]
    check(r.returncode != 0 and len(errs) == 1 and "cannot decompress" in errs[0], f"damaged .gz: one clear error: {r.stderr[-600:]}")
    out = os.path.join(TMP, "cut.bin")
    r = run(os.path.join(TMP, "cut.dump.gz"), [], 3, out)
    check(r.returncode == 0 and re.search(r"last frame \(frame 1, line 3466\) is truncated", r.stderr) and len(read_bin(out)[2]) == 1,
          f"cut .gz: frame 1 skipped with a warning: {r.stderr[-600:]}")
    for name, frag, nf in (("bad_truncated.dump", r"last frame \(frame 2, line 27\) is truncated", 2), ("bad_truncated.xyz", r"last frame \(frame 1, line 5\) is truncated", 1)):
        out = os.path.join(TMP, "t.bin")
        r = run(os.path.join(D, name), [], 3, out)
        warns = [l for l in r.stderr.splitlines() if "warning" in l]
        check(r.returncode == 0 and len(warns) == 1 and re.search(frag, warns[0]), f"{name}: truncated last frame is skipped with one warning: {r.stderr[-600:]}")
        if r.returncode == 0:
            check(len(read_bin(out)[2]) == nf, f"{name}: {nf} complete frames kept")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    try:
        # run a private copy: a concurrent rebuild relinking the binary must not break a running test
        shutil.copy2(TOOL, os.path.join(TMP, "test_traj_dump"))
        TOOL = os.path.join(TMP, "test_traj_dump")
        if what in ("cu", "all"): test_cu()
        if what in ("formats", "all"): test_formats()
        if what in ("bad", "all"): test_bad()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"{npass} passed, {nfail} failed")
    sys.exit(1 if nfail else 0)
