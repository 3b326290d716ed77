#!/usr/bin/python3
"""Writes the small handmade trajectory files of this directory (run once; the files are committed).
Deterministic (fixed seeds). tests/e2e/test_traj_readers.py reads them."""
import os, random

HERE = os.path.dirname(os.path.abspath(__file__))


def w(name, text):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


def lammps_frame(step, box_lines, box_flags, cols, rows):
    out = ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(len(rows)),
           "ITEM: BOX BOUNDS " + box_flags] + box_lines + ["ITEM: ATOMS " + " ".join(cols)]
    out += [" ".join(r) for r in rows]
    return "\n".join(out) + "\n"


def tri_bounds(lo, hi, xy, xz, yz):
    """LAMMPS writes the bounding box of a triclinic cell (Howto triclinic)."""
    xlo_b = lo[0] + min(0.0, xy, xz, xy + xz)
    xhi_b = hi[0] + max(0.0, xy, xz, xy + xz)
    ylo_b = lo[1] + min(0.0, yz)
    yhi_b = hi[1] + max(0.0, yz)
    return [f"{xlo_b!r} {xhi_b!r} {xy!r}", f"{ylo_b!r} {yhi_b!r} {xz!r}", f"{lo[2]!r} {hi[2]!r} {yz!r}"]


def tri_scaled():
    rng = random.Random(1)
    text = ""
    for fr in range(5):
        lo = [-1.5 + 0.1 * fr, 0.25, -3.0]
        hi = [8.5 + 0.1 * fr, 9.75, 7.0 - 0.05 * fr]
        xy, xz, yz = 1.25 - 0.5 * fr, -0.75, 0.5 * (fr - 2)
        rows = []
        for i in range(40):
            rows.append([str(1 + i % 3), str(i + 1)] + [repr(rng.uniform(-0.05, 1.05)) for _ in range(3)]
                        + [repr(rng.gauss(0, 1)) for _ in range(3)] + [f"{rng.uniform(-5, 5):.6e}"])
        rng.shuffle(rows)
        text += lammps_frame(100 * fr, tri_bounds(lo, hi, xy, xz, yz), "xy xz yz pp pp fm",
                             ["type", "id", "xs", "ys", "zs", "c_f[1]", "c_f[2]", "c_f[3]", "v_e"], rows)
    w("tri_scaled.dump", text)


def unwrapped():
    rng = random.Random(2)
    names = ["Li", "P", "S", "Cl"]
    text = ""
    for fr in range(2):
        rows = []
        for i in range(30):
            rows.append([str(1000 - 7 * i), names[(i * 7) % 4]] + [repr(rng.uniform(-20, 30)) for _ in range(3)]
                        + [repr(rng.gauss(0, 2))])
        rng.shuffle(rows)
        text += lammps_frame(5 + 10 * fr, ["0 10.5", "-2 12", "1.5 9.25"], "pp pp pp",
                             ["id", "element", "xu", "yu", "zu", "vx"], rows)
    w("unwrapped.dump", text)


def dump_atom():
    rng = random.Random(3)
    text = ""
    for fr in range(2):
        rows = [[str(i + 1), str(1 + (i % 2))] + [repr(rng.random()) for _ in range(3)]
                + [str(rng.randint(-1, 1)) for _ in range(3)] for i in range(25)]
        rng.shuffle(rows)
        text += lammps_frame(fr * 50, ["-2.5 2.5", "-2.5 2.5", "0 6"], "pp pp pp",
                             ["id", "type", "xs", "ys", "zs", "ix", "iy", "iz"], rows)
    w("atom.dump", text)


def ase_extxyz():
    rng = random.Random(4)
    sp = ["Cu", "Au", "H"]
    text = ""
    for fr in range(3):
        lat = [8.0 + fr, 0.0, 0.0, 1.5, 7.5, 0.0, -0.5, 0.75, 9.0]
        text += "12\n"
        text += ('Lattice="' + " ".join(repr(x) for x in lat) + '" Properties=species:S:1:pos:R:3:forces:R:3:tags:I:1 '
                 f'energy={rng.uniform(-10, 0)!r} pbc="T T T"\n')
        for i in range(12):
            s = sp[(i * (fr + 1)) % 3]
            text += f"{s:<2} " + " ".join(f"{rng.uniform(0, 8):15.8f}" for _ in range(3)) + " " \
                    + " ".join(f"{rng.gauss(0, 1):12.8f}" for _ in range(3)) + f" {i % 4}\n"
    w("ase.extxyz", text)


def general_triclinic():
    """Newer LAMMPS: ITEM: BOX BOUNDS abc origin (edge vectors and origin), scaled coordinates."""
    rng = random.Random(5)
    box = ["6.0 0.5 -0.25 1.0", "1.5 7.0 0.0 -2.0", "0.0 0.75 8.0 0.5"]
    rows = [[str(i + 1), "1"] + [repr(rng.random()) for _ in range(3)] for i in range(20)]
    w("general.dump", lammps_frame(0, box, "abc origin pp pp pp", ["id", "type", "xs", "ys", "zs"], rows))


def time_items():
    """dump_modify units yes time yes: ITEM: UNITS (first frame) and ITEM: TIME before ITEM: TIMESTEP.
    Many small frames, so that rank boundaries fall inside these headers."""
    rng = random.Random(6)
    text = ""
    for fr in range(30):
        rows = [[str(i + 1), "1"] + [repr(rng.uniform(0, 4)) for _ in range(3)] for i in range(3)]
        head = ("ITEM: UNITS\nmetal\n" if fr == 0 else "") + f"ITEM: TIME\n{0.002 * fr!r}\n"
        text += head + lammps_frame(10 * fr, ["0 4", "0 4", "0 4"], "pp pp pp", ["id", "type", "x", "y", "z"], rows)
    w("time_items.dump", text)


def int_comments():
    """Plain XYZ whose comment lines are lone integers (look like atom counts): the frame chain must
    not be fooled, whatever the rank boundaries."""
    rng = random.Random(7)
    text = ""
    for fr in range(12):
        n = 3
        text += f"{n}\n{fr + 1}\n" + "".join(f"{'CO'[i % 2]} {rng.uniform(-1, 1)!r} {rng.uniform(-1, 1)!r} {rng.uniform(-1, 1)!r}\n" for i in range(n))
    w("int_comments.xyz", text)


def molecule_xyz():
    text = ""
    for fr in range(2):
        text += "3\nwater frame %d\n" % fr
        text += "O 0.0 0.0 %r\nH 0.757 0.586 0.0\nH -0.757 0.586 0.0\n" % (0.1 * fr)
    w("molecule.xyz", text)


def bad_files():
    def frame(step, n=4, box=("0 5", "0 5", "0 5"), cols="id type x y z", rows=None, natoms=None):
        rows = rows if rows is not None else [f"{i + 1} 1 {i}.5 1.25 2.5" for i in range(n)]
        return lammps_frame(step, list(box), "pp pp pp", cols.split(), [r.split() for r in rows]).replace(
            f"ITEM: NUMBER OF ATOMS\n{len(rows)}\n", f"ITEM: NUMBER OF ATOMS\n{natoms if natoms else len(rows)}\n")

    w("bad_truncated.dump", frame(0) + frame(10) + frame(20).rsplit("\n", 3)[0] + "\n")  # 2 of 4 atom lines
    w("bad_natoms.dump", frame(0) + frame(10) + frame(20, n=5))
    w("bad_columns.dump", frame(0, cols="id type q", rows=["1 1 0.5", "2 1 0.25"]))
    w("bad_type.dump", frame(0) + frame(10, rows=["1 1 0 0 0", "2 1 1 1 1", "3 3 2 2 2", "4 1 3 3 3"]))
    w("bad_box.dump", frame(0) + frame(10, box=("0 5", "3 3", "0 5")))
    w("bad_number.dump", frame(0) + frame(10, rows=["1 1 0 0 0", "2 1 1 1 1", "3 1 2 2 2", "4 1 3 1.2.3 3"]))
    w("bad_timestep.dump", frame(0) + frame(10) + frame(10))
    w("bad_dupid.dump", frame(0) + frame(10, rows=["1 1 0 0 0", "2 1 1 1 1", "2 1 2 2 2", "4 1 3 3 3"]))
    w("bad_lines.dump", frame(0, natoms=3) + frame(10, natoms=3))
    w("bad_count.xyz", "2\nframe 0\nO 0 0 0\nH 1 0 0\n2\nframe 1\nO 0 0 0\nH 1 0 0\nH 0 1 0\n2\nframe 2\nO 0 0 0\nH 1 0 0\n")
    w("bad_values.dump", frame(0, rows=["1 1 0 0 0", "2 1 1 1", "3 1 2 2 2", "4 1 3 3 3"]))
    w("bad_colchange.dump", frame(0) + frame(10) + frame(20, cols="id type x y z q", rows=[f"{i + 1} 1 0 0 0 1" for i in range(4)]))
    w("bad_lattice.xyz", '1\nLattice="1 0 0 0 1 0 0 0" Properties=species:S:1:pos:R:3\nO 0 0 0\n')
    w("bad_props.xyz", '1\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:charge:R:1\nO 0.5\n')
    w("bad_truncated.xyz", "2\nframe 0\nO 0 0 0\nH 1 0 0\n2\nframe 1\nO 0 0 0\n")


if __name__ == "__main__":
    tri_scaled(); general_triclinic(); time_items(); int_comments(); unwrapped(); dump_atom(); ase_extxyz(); molecule_xyz(); bad_files()
