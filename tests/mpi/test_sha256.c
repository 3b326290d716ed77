/* pm_file_sha256 (FIPS 180-4): the standard test vectors, block-boundary lengths, a message of one
 * million 'a', and the SHA-256 that DADApy's reference files record for their inputs. */
#include <phasemap/io.h>
#include "pm_test.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check(MPI_Comm comm, const char *path, const void *data, size_t n, const char *want)
{
  int  rank;
  char hex[65] = "";

  MPI_Comm_rank(comm, &rank);
  if (data && rank == 0) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
  }
  MPI_Barrier(comm);
  PM_TEST(pm_file_sha256(comm, path, hex) == 0, "sha256 of %s", path);
  PM_TEST(!strcmp(hex, want), "sha256 of %s (%zu bytes): %s, expected %s", path, n, hex, want);
  MPI_Barrier(comm);
  if (data && rank == 0) unlink(path);
}

static PetscErrorCode quiet(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  if (p == PETSC_ERROR_INITIAL) snprintf((char *)ctx, 1024, "%s", mess ? mess : "");
  return n;
}

int main(int argc, char **argv)
{
  MPI_Comm       comm;
  int            rank, rc;
  char           tmp[64], path[128], msg[1024] = "", hex[65];
  unsigned char *buf = malloc(1000000);
  /* lengths around the 55/56/64-byte padding boundaries; expected values from Python's hashlib */
  static const struct {
    size_t      n;
    const char *hex;
  } lens[] = {
    {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
    {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
    {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
    {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
    {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
    {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
    {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
    {1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"},
  };

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  MPI_Comm_rank(comm, &rank);
  snprintf(tmp, sizeof tmp, "/tmp/pm_test_sha256_%d", (int)getpid());
  (void)MPI_Bcast(tmp, sizeof tmp, MPI_CHAR, 0, comm);
  snprintf(path, sizeof path, "%s.bin", tmp);
  /* FIPS 180-4 / NIST example messages */
  check(comm, path, "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check(comm, path, "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  check(comm, path, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  check(comm, path, "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  memset(buf, 'a', 1000000);
  check(comm, path, buf, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    for (size_t j = 0; j < lens[i].n; j++) buf[j] = (unsigned char)((j * 7 + 3) % 256);
    check(comm, path, buf, lens[i].n, lens[i].hex);
  }
  /* the input_sha256 attributes of the DADApy reference files */
  check(comm, "tests/data/reference/gmm2d.npy", NULL, 0, "55b816c4e269e532a48bae6db90d60ce1f0e7c0bb790918cbae9348c8c8fc2b5");
  check(comm, "tests/data/reference/hypercube5d.npy", NULL, 0, "5e78d43e7471ad8e926cf129b58ba1778212bdefa84655818020fa249b4699db");
  check(comm, "tests/data/reference/swissroll10d.npy", NULL, 0, "593145129f1c52896e26b95afee35919ca950efb19c401886d40d4dab0ef7e72");
  /* a missing file is an error on every rank, naming the file */
  PetscPushErrorHandler(quiet, msg);
  rc = pm_file_sha256(comm, "/nonexistent/input.npy", hex);
  PetscPopErrorHandler();
  PM_TEST(rc != 0 && strstr(msg, "/nonexistent/input.npy") && strstr(msg, "does not exist"), "missing file: '%s'", msg);
  free(buf);
  rc = pm_test_finish_mpi(comm);
  PetscCall(PetscFinalize());
  return rc;
}
