/* SHA-256 of a file (FIPS 180-4), for the input checksum recorded in the output. Rank 0 reads the
 * file in large pieces and broadcasts the digest. */
#include "io/io_impl.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SHA_READ_BYTES (1 << 20)

typedef struct {
  uint32_t      h[8];
  uint64_t      nbytes;  /* message length so far */
  unsigned char blk[64]; /* pending partial block */
  size_t        nblk;
} sha256_t;

static const uint32_t sha_k[64] = {0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
                                   0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
                                   0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
                                   0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* One 512-bit block (FIPS 180-4 section 6.2.2). */
static void compress(uint32_t h[8], const unsigned char *p)
{
  uint32_t w[64], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];

  for (int t = 0; t < 16; t++) w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t]        = w[t - 16] + s0 + w[t - 7] + s1;
  }
  for (int t = 0; t < 64; t++) {
    uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[t] + w[t];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k           = g;
    g           = f;
    f           = e;
    e           = d + t1;
    d           = c;
    c           = b;
    b           = a;
    a           = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void sha_init(sha256_t *s)
{
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

  memcpy(s->h, h0, sizeof h0);
  s->nbytes = 0;
  s->nblk   = 0;
}

static void sha_update(sha256_t *s, const unsigned char *p, size_t n)
{
  s->nbytes += n;
  if (s->nblk) {
    size_t take = PetscMin(n, 64 - s->nblk);
    memcpy(s->blk + s->nblk, p, take);
    s->nblk += take, p += take, n -= take;
    if (s->nblk < 64) return;
    compress(s->h, s->blk);
    s->nblk = 0;
  }
  for (; n >= 64; p += 64, n -= 64) compress(s->h, p);
  memcpy(s->blk, p, n);
  s->nblk = n;
}

/* Padding: 0x80, zeros, then the bit length as 64-bit big endian (section 5.1.1). */
static void sha_final(sha256_t *s, char hex[65])
{
  uint64_t      bits = s->nbytes * 8;
  unsigned char pad[72];
  size_t        npad = (s->nblk < 56 ? 56 : 120) - s->nblk;

  memset(pad, 0, sizeof pad);
  pad[0] = 0x80;
  for (int i = 0; i < 8; i++) pad[npad + i] = (unsigned char)(bits >> (56 - 8 * i));
  sha_update(s, pad, npad + 8);
  for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", s->h[i]);
  hex[64] = 0;
}

static PetscBool hash_local(const char *path, char hex[65], char *why, size_t len)
{
  FILE          *f = fopen(path, "rb");
  unsigned char *buf;
  sha256_t       s;
  size_t         got;
  PetscBool      ok = PETSC_TRUE;

  if (!f) {
    snprintf(why, len, "cannot open '%s' to compute its SHA-256 (%s)", path, strerror(errno));
    return PETSC_FALSE;
  }
  if (PetscMalloc1(SHA_READ_BYTES, &buf)) {
    fclose(f);
    snprintf(why, len, "out of memory hashing '%s'", path);
    return PETSC_FALSE;
  }
  sha_init(&s);
  while ((got = fread(buf, 1, SHA_READ_BYTES, f)) > 0) sha_update(&s, buf, got);
  if (ferror(f)) {
    snprintf(why, len, "error reading '%s' to compute its SHA-256 (%s)", path, strerror(errno));
    ok = PETSC_FALSE;
  }
  fclose(f);
  PetscFree(buf);
  if (ok) sha_final(&s, hex);
  return ok;
}

PetscErrorCode pm_file_sha256(MPI_Comm comm, const char *path, char hex[65])
{
  int           rank;
  PetscBool     ok = PETSC_TRUE;
  char          why[PM_REASON_MAX] = "";
  pm_io_probe_t probe;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(hex, 65));
  PetscCall(pm_io_probe(comm, path, &probe)); /* missing file, directory, unreadable: clear message */
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) ok = hash_local(path, hex, why, sizeof why);
  PetscCall(pm_agree(comm, ok, why));
  PetscCallMPI(MPI_Bcast(hex, 65, MPI_CHAR, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
