// OpenBLAS's CBLAS interface (cblas_sgemm and friends)
// and its thread-count control. Kernels is the only target that imports it.
#include <cblas.h>
