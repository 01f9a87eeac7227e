// Open MPI's C interface behind a few plain-C functions: MPI's handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM) are macros over library globals that Swift cannot import, so the
// collectives Ponder needs are wrapped here. Every collective is non-blocking underneath and
// polled with short sleeps, so a waiting rank leaves its core to the others and gives up after
// `timeout` seconds (a rank that died or hangs) instead of blocking forever.
// Return values: 0 success, -1 timed out, otherwise the MPI error code.
#include <mpi.h>
#include <time.h>

static inline double ponder_mpi_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/// Polls `request` until it completes or `timeout` seconds pass (spinning briefly first, then
/// sleeping 100 microseconds between polls).
static inline int ponder_mpi_wait(MPI_Request *request, double timeout) {
    double deadline = ponder_mpi_now() + timeout;
    struct timespec pause = {0, 100000};
    for (long polls = 0;; polls++) {
        int done = 0;
        int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        if (done) return 0;
        if (polls > 200) {
            if (ponder_mpi_now() > deadline) return -1;
            nanosleep(&pause, NULL);
        }
    }
}

/// MPI_Init_thread (serialized: one thread at a time calls MPI); errors are returned, not fatal.
static inline int ponder_mpi_start(int *rank, int *size) {
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

static inline int ponder_mpi_finish(void) { return MPI_Finalize(); }

static inline void ponder_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static inline int ponder_mpi_sum_floats(float *values, int count, double timeout) {
    MPI_Request request;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, values, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    return rc != MPI_SUCCESS ? rc : ponder_mpi_wait(&request, timeout);
}

static inline int ponder_mpi_sum_doubles(double *values, int count, double timeout) {
    MPI_Request request;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &request);
    return rc != MPI_SUCCESS ? rc : ponder_mpi_wait(&request, timeout);
}

/// Rank 0's `count` bytes into every rank's `bytes`.
static inline int ponder_mpi_broadcast(void *bytes, int count, double timeout) {
    MPI_Request request;
    int rc = MPI_Ibcast(bytes, count, MPI_BYTE, 0, MPI_COMM_WORLD, &request);
    return rc != MPI_SUCCESS ? rc : ponder_mpi_wait(&request, timeout);
}

/// Every rank's int, in rank order.
static inline int ponder_mpi_gather_int(int mine, int *all, double timeout) {
    MPI_Request request;
    int rc = MPI_Iallgather(&mine, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD, &request);
    return rc != MPI_SUCCESS ? rc : ponder_mpi_wait(&request, timeout);
}

/// Every rank's bytes, concatenated in rank order (`counts` and `offsets` per rank).
static inline int ponder_mpi_gather_bytes(const void *mine, int count, void *all, const int *counts, const int *offsets,
                                          double timeout) {
    MPI_Request request;
    int rc = MPI_Iallgatherv(mine, count, MPI_BYTE, all, counts, offsets, MPI_BYTE, MPI_COMM_WORLD, &request);
    return rc != MPI_SUCCESS ? rc : ponder_mpi_wait(&request, timeout);
}

static inline int ponder_mpi_barrier(double timeout) {
    MPI_Request request;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &request);
    return rc != MPI_SUCCESS ? rc : ponder_mpi_wait(&request, timeout);
}

static inline void ponder_mpi_error_string(int code, char *text, int capacity) {
    int length = 0;
    if (capacity < MPI_MAX_ERROR_STRING || MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
        if (capacity > 0) text[0] = 0;
    }
}
