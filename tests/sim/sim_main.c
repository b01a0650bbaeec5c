/* sim_main.c — the `sim` driver.
 *
 *   sim --seed S [-v]                one random run (-v prints the trace)
 *   sim --seeds FIRST COUNT [--twice EVERY]
 *                                    COUNT runs from seed FIRST; every EVERY-th seed
 *                                    runs twice and must give the same trace hash
 *   sim --soak [--from S]            random seeds until stopped; a failure prints the
 *                                    command that reproduces it byte-for-byte
 *   sim --script FILE [--rewrite]    a scenario script against FILE's .out golden
 *   sim --sweep [TARGET CAUSE K] [-v]  crash-at-effect for every (node, cause, k)
 *
 * --rules-off (seeds, sweep): only end-to-end invariants, no message-level
 * §5 checks — to see what the end-to-end checks catch on their own.
 *
 * Exit status: 0 all passed, 1 an invariant failed, 2 usage. */
#include "sim.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* The run in progress, for the abort handler: a core assertion (ZK_ASSERT)
 * aborts the process, and the seed must still be printed. */
static const char *sim_argv0 = "sim";
static uint64_t sim_current_seed;
static bool sim_in_seed;

static void sim_on_abort(int sig) {
    fflush(stdout);
    if (sim_in_seed) {
        if (sim_current != NULL && !sim_current->verbose) {
            fprintf(stderr, "last events:\n");
            for (uint32_t k = 0; k < SIM_TRACE_RING; k++) {
                const char *line = sim_current->ring[(sim_current->ring_pos + k) % SIM_TRACE_RING];
                if (line[0] != 0)
                    fprintf(stderr, "  %s\n", line);
            }
        }
        fprintf(stderr, "seed 0x%" PRIx64 ": aborted\nreproduce: %s --seed 0x%" PRIx64 " -v\n",
                sim_current_seed, sim_argv0, sim_current_seed);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static int sim_usage(void) {
    fprintf(stderr, "usage: sim --seed S [-v] | --seeds FIRST COUNT [--twice EVERY] |\n"
                    "           --soak [--from S] | --script FILE [--rewrite] |\n"
                    "           --sweep [TARGET CAUSE K] [-v]\n");
    return 2;
}

static int sim_one(const char *argv0, uint64_t seed, bool verbose, bool twice) {
    uint64_t h1 = 0, h2 = 0;
    sim_current_seed = seed;
    sim_in_seed = true;
    int rc = sim_run_seed(seed, verbose, &h1);
    if (rc == 0 && twice) {
        rc = sim_run_seed(seed, false, &h2);
        if (rc == 0 && h1 != h2) {
            fprintf(stderr, "seed 0x%" PRIx64 ": NOT DETERMINISTIC: trace hash %016" PRIx64
                            " then %016" PRIx64 "\n",
                    seed, h1, h2);
            rc = 1;
        }
    }
    if (rc != 0)
        fprintf(stderr, "reproduce: %s --seed 0x%" PRIx64 " -v\n", argv0, seed);
    else if (verbose)
        printf("seed 0x%" PRIx64 " ok trace %016" PRIx64 "\n", seed, h1);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return sim_usage();
    sim_argv0 = argv[0];
    signal(SIGABRT, sim_on_abort);
    bool verbose = false, rewrite = false;
    uint64_t every = 0, from = 0;
    bool have_from = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = true;
        else if (strcmp(argv[i], "--rules-off") == 0)
            sim_rules_off_default = true;
        else if (strcmp(argv[i], "--rewrite") == 0)
            rewrite = true;
        else if (strcmp(argv[i], "--twice") == 0 && i + 1 < argc)
            every = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            from = strtoull(argv[++i], NULL, 0);
            have_from = true;
        }
    }
    if (strcmp(argv[1], "--seed") == 0 && argc >= 3)
        return sim_one(argv[0], strtoull(argv[2], NULL, 0), verbose, true);
    if (strcmp(argv[1], "--sweep") == 0) {
        if (argc >= 5 && argv[2][0] != '-')
            return sim_run_sweep(verbose, atoi(argv[2]), atoi(argv[3]), (uint32_t)atoi(argv[4]));
        return sim_run_sweep(verbose, -1, 0, 0);
    }
    if (strcmp(argv[1], "--script") == 0 && argc >= 3)
        return sim_run_script(argv[2], rewrite);
    if (strcmp(argv[1], "--seeds") == 0 && argc >= 4) {
        uint64_t first = strtoull(argv[2], NULL, 0), count = strtoull(argv[3], NULL, 0);
        uint64_t failed = 0;
        for (uint64_t k = 0; k < count; k++) {
            bool twice = every != 0 && k % every == 0;
            if (sim_one(argv[0], first + k, false, twice) != 0)
                failed++;
        }
        printf("sim: %" PRIu64 " seeds from %" PRIu64 ": %" PRIu64 " failed\n", count, first,
               failed);
        return failed ? 1 : 0;
    }
    if (strcmp(argv[1], "--soak") == 0) {
        /* The driver may use the OS for a starting point; runs stay seeded. */
        if (!have_from && getrandom(&from, sizeof(from), 0) != (ssize_t)sizeof(from))
            from = 1;
        for (uint64_t k = 0;; k++) {
            uint64_t seed = from + k;
            if (sim_one(argv[0], seed, false, k % 16 == 0) != 0)
                return 1;
            if (k % 100 == 99)
                printf("sim soak: %" PRIu64 " seeds passed (from 0x%" PRIx64 ")\n", k + 1, from);
            fflush(stdout);
        }
    }
    return sim_usage();
}
