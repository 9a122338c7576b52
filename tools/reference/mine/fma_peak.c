/* Measured fp32 FMA throughput of this machine, to check the nominal peak used for the
 * "share of fp32 peak" of the `cuelab mine` GEMM: each thread runs 12 independent chains of
 * 512-bit (or 256-bit with -DWIDTH=256) fused multiply-adds, long enough for the AVX-512
 * frequency licence to settle.
 *
 *   gcc -O2 -march=native -pthread tools/reference/mine/fma_peak.c -o /tmp/fma_peak
 *   /tmp/fma_peak 2      # threads
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
#define ITERS 1200000000L

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float sink[64];
static double cpu[64];

static double thread_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *arg) {
  long id = (long)arg;
  double t0 = thread_cpu();
  __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  __m512 c0 = _mm512_set1_ps(0), c1 = _mm512_set1_ps(1), c2 = _mm512_set1_ps(2),
         c3 = _mm512_set1_ps(3), c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5),
         c6 = _mm512_set1_ps(6), c7 = _mm512_set1_ps(7), c8 = _mm512_set1_ps(8),
         c9 = _mm512_set1_ps(9), c10 = _mm512_set1_ps(10), c11 = _mm512_set1_ps(11);
  for (long i = 0; i < ITERS / CHAINS; i++) {
#define F(c) c = _mm512_fmadd_ps(c, a, b)
    F(c0); F(c1); F(c2); F(c3); F(c4); F(c5); F(c6); F(c7); F(c8); F(c9); F(c10); F(c11);
    /* keep every FMA in the loop (no folding across iterations) */
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5),
                     "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11));
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                           _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
  sink[id] = _mm512_reduce_add_ps(s);
  cpu[id] = thread_cpu() - t0;
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  pthread_t t[64];
  run((void *)63); /* warm up the frequency licence */
  double t0 = now();
  for (long k = 0; k < threads; k++) pthread_create(&t[k], NULL, run, (void *)k);
  for (int k = 0; k < threads; k++) pthread_join(t[k], NULL);
  double secs = now() - t0;
  double per_thread = 2.0 * 16 * (double)(ITERS / CHAINS * CHAINS);
  double cpu_secs = 0;
  for (int k = 0; k < threads; k++) cpu_secs += cpu[k];
  /* wall rate: what the threads got; per CPU-second: the rate while running (what a core can
   * do), unaffected by other processes sharing the cores */
  printf("%d threads: %.1f GFLOP/s fp32 wall (%.2f s); %.1f GFLOP/s per core while running "
         "(512-bit FMA, %d chains)\n",
         threads, per_thread * threads / secs / 1e9, secs, per_thread * threads / cpu_secs / 1e9,
         CHAINS);
  return 0;
}
