#!/usr/bin/python3
"""Independent, slow reference for the SOAP power spectrum of phasemap (definitions: docs/soap.md).

It never uses the Bessel-function shortcut of the C code: the expansion coefficients
c^a_{nlm} = int_{|x|<rc} g_n(|x|) conj(Y_lm(x/|x|)) rho^a(x) d^3x are integrated numerically on a
3-D grid (Gauss-Legendre in r and cos(theta), uniform in phi) with scipy's complex spherical
harmonics, and the radial basis is orthonormalised from overlaps computed with scipy.integrate.quad.

Usage: soap_ref.py --check FILE [--tol T]   FILE written by `test_soap -dump FILE`; exits 1 if any
feature differs from the reference by more than T (absolute; features are unit vectors).
"""
import sys
import argparse
import numpy as np
from scipy import integrate
from scipy.special import sph_harm


def envelope(r, rc):
    w = min(1.0, 0.5 * rc)
    r = np.asarray(r, dtype=float)
    f = 0.5 * (1.0 + np.cos(np.pi * (r - rc + w) / w))
    return np.where(r <= rc - w, 1.0, np.where(r >= rc, 0.0, f))


def radial_basis(nmax, rc):
    """Coefficients W (nmax x nmax): g_n = sum_k W[n,k] phi_k, orthonormal with weight r^2 on [0, rc]."""
    b = rc / nmax
    phi = [lambda r, k=k: np.exp(-0.5 * ((r - k * b) / b) ** 2) for k in range(nmax)]
    S = np.zeros((nmax, nmax))
    for k in range(nmax):
        for kk in range(k, nmax):
            S[k, kk] = S[kk, k] = integrate.quad(lambda r: r * r * phi[k](r) * phi[kk](r), 0.0, rc,
                                                 epsabs=1e-15, epsrel=1e-13, limit=200)[0]
    ev, U = np.linalg.eigh(S)
    W = U @ np.diag(ev ** -0.5) @ U.T

    def g(r):
        P = np.array([p(r) for p in phi])  # nmax x len(r)
        return W @ P
    return g


def grid(rc, sigma, nth=72, nph=144):
    npan = int(np.ceil(rc / sigma))
    xg, wg = np.polynomial.legendre.leggauss(12)
    r, wr = [], []
    for p in range(npan):
        a, bb = rc * p / npan, rc * (p + 1) / npan
        r.append(0.5 * (a + bb) + 0.5 * (bb - a) * xg)
        wr.append(0.5 * (bb - a) * wg)
    r, wr = np.concatenate(r), np.concatenate(wr)
    ct, wt = np.polynomial.legendre.leggauss(nth)
    ph = 2 * np.pi * np.arange(nph) / nph
    CT, PH = np.meshgrid(ct, ph, indexing="ij")
    WA = np.outer(wt, np.full(nph, 2 * np.pi / nph))
    st = np.sqrt(1 - CT ** 2)
    u = np.stack([st * np.cos(PH), st * np.sin(PH), CT], axis=-1).reshape(-1, 3)
    return r, wr, u, WA.reshape(-1), np.arccos(CT).reshape(-1), PH.reshape(-1)


def soap(species, pos, nspecies, nmax, lmax, rc, sigma):
    g = radial_basis(nmax, rc)
    r, wr, u, wa, theta, phi = grid(rc, sigma)
    G = g(r) * (wr * r * r)[None, :]  # nmax x nr
    lm = [(l, m) for l in range(lmax + 1) for m in range(-l, l + 1)]
    Yc = np.array([np.conj(sph_harm(m, l, phi, theta)) for (l, m) in lm]).T * wa[:, None]  # nang x LM
    out = []
    for i in range(len(pos)):
        c = np.zeros((nspecies, nmax, len(lm)), dtype=complex)
        for a in range(nspecies):
            rho = np.zeros((len(r), len(u)))
            for j in range(len(pos)):
                if j == i or species[j] != a:
                    continue
                d = pos[j] - pos[i]
                rj = np.linalg.norm(d)
                if rj >= rc:
                    continue
                cosg = u @ (d / rj)
                q = r[:, None] ** 2 + rj * rj - 2.0 * np.outer(r, rj * cosg)
                rho += envelope(rj, rc) * np.exp(-0.5 * q / sigma ** 2)
            c[a] = G @ (rho @ Yc)
        feats = []
        for a in range(nspecies):
            for b in range(a, nspecies):
                for n in range(nmax):
                    for nn in range(n if a == b else 0, nmax):
                        w = 1.0 if (a == b and n == nn) else np.sqrt(2.0)
                        for l in range(lmax + 1):
                            sl = slice(l * l, (l + 1) * (l + 1))
                            feats.append(w * np.real(np.sum(c[a, n, sl] * np.conj(c[b, nn, sl]))))
        f = np.array(feats)
        nrm = np.linalg.norm(f)
        out.append(f / nrm if nrm > 0 else f)
    return np.array(out)


def read_dump(path):
    lines = open(path).read().split("\n")
    k, clouds = 0, []
    while k < len(lines) and lines[k].strip():
        h = lines[k].split()
        assert h[0] == "cloud", f"{path}: line {k + 1}: expected 'cloud'"
        n, nsp, nmax, lmax, rc, sigma, dim = int(h[1]), int(h[2]), int(h[3]), int(h[4]), float(h[5]), float(h[6]), int(h[7])
        at = np.array([[float(x) for x in lines[k + 1 + i].split()] for i in range(n)])
        feat = np.array([[float(x) for x in lines[k + 1 + n + i].split()] for i in range(n)])
        assert feat.shape == (n, dim)
        clouds.append(dict(species=at[:, 0].astype(int), pos=at[:, 1:4], nspecies=nsp, nmax=nmax, lmax=lmax,
                           rc=rc, sigma=sigma, feat=feat))
        k += 1 + 2 * n
    return clouds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True)
    ap.add_argument("--tol", type=float, default=1e-8)
    a = ap.parse_args()
    clouds = read_dump(a.check)
    bad = 0
    for t, c in enumerate(clouds):
        ref = soap(c["species"], c["pos"], c["nspecies"], c["nmax"], c["lmax"], c["rc"], c["sigma"])
        err = np.max(np.abs(ref - c["feat"]))
        ok = err <= a.tol and ref.shape == c["feat"].shape
        bad += not ok
        print(f"{'ok' if ok else 'not ok'} cloud {t}: {len(c['pos'])} atoms, nmax {c['nmax']} lmax {c['lmax']} "
              f"rc {c['rc']} sigma {c['sigma']}, dim {ref.shape[1]}: max |C - ref| = {err:.3e} (tol {a.tol:g})")
    print(f"{len(clouds) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
