/* Password hashing: argon2id through libsodium, with a cap on how many hashes run at once.
 *
 * Each hash holds memlimit bytes and a core for its whole duration, so an unbounded number of
 * concurrent logins would exhaust memory or starve every other request. Past the cap the caller
 * answers 503 at once: queueing would only turn a burst into a pile of timed-out clients. */
#include <stdatomic.h>
#include <string.h>

#include "user.h"
#include "vg_config.h"
#include "vg_log.h"

static unsigned long long pw_opslimit;
static size_t pw_memlimit;
static int pw_slots;
static atomic_int pw_busy;
/* Hash of a random password nobody knows, made with the live parameters so that verifying
 * against it costs exactly what a real verification costs. */
static char pw_dummy[crypto_pwhash_STRBYTES];

void pw_init(void)
{
    unsigned char secret[32];
    char secret_hex[2 * sizeof(secret) + 1];

    pw_opslimit = (unsigned long long)vg_env_int(
        "VIGIL_ARGON2_OPSLIMIT", crypto_pwhash_OPSLIMIT_INTERACTIVE,
        crypto_pwhash_argon2id_OPSLIMIT_MIN, (long long)crypto_pwhash_argon2id_OPSLIMIT_MAX);
    pw_memlimit = (size_t)vg_env_int("VIGIL_ARGON2_MEMLIMIT", crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                     crypto_pwhash_argon2id_MEMLIMIT_MIN, 4LL << 30);
    pw_slots = (int)vg_env_int("VIGIL_HASH_CONCURRENCY", 4, 1, 1024);
    atomic_init(&pw_busy, 0);

    randombytes_buf(secret, sizeof(secret));
    sodium_bin2hex(secret_hex, sizeof(secret_hex), secret, sizeof(secret));
    if (crypto_pwhash_str_alg(pw_dummy, secret_hex, strlen(secret_hex), pw_opslimit, pw_memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        vg_die("vg-user: cannot hash with VIGIL_ARGON2_MEMLIMIT=%zu (out of memory? lower it)",
               pw_memlimit);
    sodium_memzero(secret_hex, sizeof(secret_hex));
    vg_info("argon2id opslimit=%llu memlimit=%zu concurrency=%d", pw_opslimit, pw_memlimit,
            pw_slots);
}

static bool slot_take(void)
{
    /* Optimistic increment: the counter may briefly exceed the cap, but a caller only proceeds
     * when its own increment stayed within it, so at most pw_slots hashes ever run. */
    if (atomic_fetch_add(&pw_busy, 1) >= pw_slots) {
        atomic_fetch_sub(&pw_busy, 1);
        return false;
    }
    return true;
}

static void slot_give(void)
{
    atomic_fetch_sub(&pw_busy, 1);
}

enum pw_result pw_hash(const char *password, char out[crypto_pwhash_STRBYTES])
{
    int rc;

    if (!slot_take())
        return PW_BUSY;
    rc = crypto_pwhash_str_alg(out, password, strlen(password), pw_opslimit, pw_memlimit,
                               crypto_pwhash_ALG_ARGON2ID13);
    slot_give();
    return rc == 0 ? PW_OK : PW_FAIL;
}

enum pw_result pw_verify(const char *hash, const char *password)
{
    int rc;

    if (!slot_take())
        return PW_BUSY;
    /* A stored hash keeps the parameters it was made with, so old hashes still verify after
     * the cost settings change. */
    rc = crypto_pwhash_str_verify(hash ? hash : pw_dummy, password, strlen(password));
    slot_give();
    if (!hash)
        return PW_MISMATCH;
    return rc == 0 ? PW_OK : PW_MISMATCH;
}
