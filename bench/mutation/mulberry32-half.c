/* Does mulberry32 (src/metrics/random.ts) ever return exactly 0.5?  Its output is a function of its 32-bit state
 * alone, and a step adds 0x6d2b79f5 to that state, so trying every state tries every draw of every seed.
 * Prints "never" (the state mixing never yields 2^31): perturb's `r < 0.5` and `r <= 0.5` are the same test.
 *   cc -O2 -o /tmp/mulberry32-half bench/mutation/mulberry32-half.c && /tmp/mulberry32-half   (about 4 s) */
#include <stdint.h>
#include <stdio.h>

int main(void) {
  for (uint64_t state = 0; state < (1ull << 32); state++) {
    uint32_t t = (uint32_t)state;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    if ((t ^ (t >> 14)) == 0x80000000u) {
      printf("state %llu gives 0.5\n", (unsigned long long)state);
      return 1;
    }
  }
  puts("never");
  return 0;
}
