;; A·Aᵀ (upper triangle) for a row-major float64 matrix, WebAssembly SIMD (f64x2).
;;
;; Source of src/metrics/wasm/gram-wasm.ts (assembled by `node scripts/build-wasm.mjs`; the base64 output
;; is committed so builds need no toolchain). Glue and contract: src/metrics/wasm/gram.ts.
;;
;; Layout (all offsets in bytes, into the exported memory):
;;   A at $a: $rows × $stride float64, row-major; $rows % 4 == 0, $stride % 4 == 0 (the caller pads with
;;     zero rows / zero columns, which add exact zeros), $a 16-byte aligned.
;;   C at $c: $rows × $rows float64, zeroed by the caller. gram_cols adds the contribution of the columns
;;     [$d0, $d1) ($d0 % 4 == 0, $d1 % 4 == 0, $d0 < $d1 ≤ $stride) to every 4×2 block (i, j) with j ≥ i
;;     (i % 4 == 0, j % 2 == 0): Σ_d A[i+r][d]·A[j+s][d]. The upper triangle is complete; the diagonal blocks
;;     also fill a few lower entries, which the caller ignores.
;;   Only row blocks i < $iend ($iend % 4 == 0, ≤ $rows) and columns j ≥ max(i, $j0) ($j0 even, < $rows) are
;;   computed: ($rows, 0) is the whole upper triangle; ($j0, $j0) with A = [X; Y] stacked at row $j0 gives the
;;   cross block X·Yᵀ alone (rows i < $j0, columns j ≥ $j0).
;;   The caller walks the columns in chunks (one call each) so a panel of row chunks stays in cache — and so
;;   the engine can tier the function up (baseline → optimising compiler) between calls: wasm has no
;;   on-stack replacement, a single long first call would run entirely in baseline code. Each chunk's 4×2
;;   partial sums (two f64x2 lanes: even and odd columns) are reduced and added into C.
;;
;; Micro-kernel: 4 rows (x0..x3) × 2 rows (y0, y1) = 8 f64x2 accumulators; per step 6 vector loads feed
;; 8 multiplies + 8 adds (no FMA: plain IEEE mul/add, deterministic on every engine), unrolled twice
;; (4 columns per iteration).
(module
  (memory (export "memory") 1)

  (func (export "gram_cols")
    (param $a i32) (param $rows i32) (param $stride i32) (param $c i32) (param $d0 i32) (param $d1 i32)
    (param $iend i32) (param $j0 i32)
    (local $sb i32) (local $cb i32) (local $len i32)
    (local $i i32) (local $j i32) (local $q i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $y0 i32) (local $y1 i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $p0 i32) (local $p1 i32) (local $end i32)
    (local $u v128) (local $v0 v128) (local $v1 v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)

    (if (i32.or (i32.or (i32.eqz (local.get $iend)) (i32.ge_u (local.get $j0) (local.get $rows)))
                (i32.ge_u (local.get $d0) (local.get $d1)))
      (then (return)))
    (local.set $sb (i32.shl (local.get $stride) (i32.const 3)))
    (local.set $cb (i32.shl (local.get $rows) (i32.const 3)))
    ;; byte offset of the chunk within a row, and its length in bytes (a multiple of 32, > 0)
    (local.set $len (i32.shl (i32.sub (local.get $d1) (local.get $d0)) (i32.const 3)))
    (local.set $d0 (i32.shl (local.get $d0) (i32.const 3)))

    (local.set $i (i32.const 0))
    (loop $iblocks
      (local.set $x0
        (i32.add (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sb))) (local.get $d0)))
      (local.set $x1 (i32.add (local.get $x0) (local.get $sb)))
      (local.set $x2 (i32.add (local.get $x1) (local.get $sb)))
      (local.set $x3 (i32.add (local.get $x2) (local.get $sb)))

      (local.set $j
        (select (local.get $i) (local.get $j0) (i32.gt_u (local.get $i) (local.get $j0))))
      (loop $jpairs
        (local.set $y0
          (i32.add (i32.add (local.get $a) (i32.mul (local.get $j) (local.get $sb))) (local.get $d0)))
        (local.set $y1 (i32.add (local.get $y0) (local.get $sb)))
        (local.set $s00 (v128.const f64x2 0 0))
        (local.set $s01 (v128.const f64x2 0 0))
        (local.set $s10 (v128.const f64x2 0 0))
        (local.set $s11 (v128.const f64x2 0 0))
        (local.set $s20 (v128.const f64x2 0 0))
        (local.set $s21 (v128.const f64x2 0 0))
        (local.set $s30 (v128.const f64x2 0 0))
        (local.set $s31 (v128.const f64x2 0 0))

        ;; walk the chunk with moving row pointers (loads use constant offsets: no address arithmetic)
        (local.set $r0 (local.get $x0))
        (local.set $r1 (local.get $x1))
        (local.set $r2 (local.get $x2))
        (local.set $r3 (local.get $x3))
        (local.set $p0 (local.get $y0))
        (local.set $p1 (local.get $y1))
        (local.set $end (i32.add (local.get $x0) (local.get $len)))
        (loop $cols
          ;; two columns
          (local.set $v0 (v128.load (local.get $p0)))
          (local.set $v1 (v128.load (local.get $p1)))
          (local.set $u (v128.load (local.get $r0)))
          (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $u) (local.get $v0))))
          (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $u) (local.get $v1))))
          (local.set $u (v128.load (local.get $r1)))
          (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $u) (local.get $v0))))
          (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $u) (local.get $v1))))
          (local.set $u (v128.load (local.get $r2)))
          (local.set $s20 (f64x2.add (local.get $s20) (f64x2.mul (local.get $u) (local.get $v0))))
          (local.set $s21 (f64x2.add (local.get $s21) (f64x2.mul (local.get $u) (local.get $v1))))
          (local.set $u (v128.load (local.get $r3)))
          (local.set $s30 (f64x2.add (local.get $s30) (f64x2.mul (local.get $u) (local.get $v0))))
          (local.set $s31 (f64x2.add (local.get $s31) (f64x2.mul (local.get $u) (local.get $v1))))
          ;; the next two
          (local.set $v0 (v128.load offset=16 (local.get $p0)))
          (local.set $v1 (v128.load offset=16 (local.get $p1)))
          (local.set $u (v128.load offset=16 (local.get $r0)))
          (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $u) (local.get $v0))))
          (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $u) (local.get $v1))))
          (local.set $u (v128.load offset=16 (local.get $r1)))
          (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $u) (local.get $v0))))
          (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $u) (local.get $v1))))
          (local.set $u (v128.load offset=16 (local.get $r2)))
          (local.set $s20 (f64x2.add (local.get $s20) (f64x2.mul (local.get $u) (local.get $v0))))
          (local.set $s21 (f64x2.add (local.get $s21) (f64x2.mul (local.get $u) (local.get $v1))))
          (local.set $u (v128.load offset=16 (local.get $r3)))
          (local.set $s30 (f64x2.add (local.get $s30) (f64x2.mul (local.get $u) (local.get $v0))))
          (local.set $s31 (f64x2.add (local.get $s31) (f64x2.mul (local.get $u) (local.get $v1))))
          (local.set $r0 (i32.add (local.get $r0) (i32.const 32)))
          (local.set $r1 (i32.add (local.get $r1) (i32.const 32)))
          (local.set $r2 (i32.add (local.get $r2) (i32.const 32)))
          (local.set $r3 (i32.add (local.get $r3) (i32.const 32)))
          (local.set $p0 (i32.add (local.get $p0) (i32.const 32)))
          (local.set $p1 (i32.add (local.get $p1) (i32.const 32)))
          (br_if $cols (i32.lt_u (local.get $r0) (local.get $end))))

        ;; C[i+r][j+s] += lane0 + lane1
        (local.set $q
          (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $cb)))
                   (i32.shl (local.get $j) (i32.const 3))))
        (call $acc (local.get $q) (local.get $s00) (local.get $s01))
        (local.set $q (i32.add (local.get $q) (local.get $cb)))
        (call $acc (local.get $q) (local.get $s10) (local.get $s11))
        (local.set $q (i32.add (local.get $q) (local.get $cb)))
        (call $acc (local.get $q) (local.get $s20) (local.get $s21))
        (local.set $q (i32.add (local.get $q) (local.get $cb)))
        (call $acc (local.get $q) (local.get $s30) (local.get $s31))

        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br_if $jpairs (i32.lt_u (local.get $j) (local.get $rows))))

      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $iblocks (i32.lt_u (local.get $i) (local.get $iend)))))

  ;; C[q] += s0.lane0 + s0.lane1; C[q+8] += s1.lane0 + s1.lane1
  (func $acc (param $q i32) (param $s0 v128) (param $s1 v128)
    (f64.store (local.get $q)
      (f64.add (f64.load (local.get $q))
        (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0)))))
    (f64.store offset=8 (local.get $q)
      (f64.add (f64.load offset=8 (local.get $q))
        (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1)))))))
