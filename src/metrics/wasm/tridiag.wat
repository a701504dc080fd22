;; One fused step of Householder tridiagonalisation, WebAssembly SIMD (f64x2).
;;
;; Source of src/metrics/wasm/tridiag-wasm.ts (assembled by `node scripts/build-wasm.mjs`). Glue and the
;; algorithm around it: src/metrics/sym-eigenvalues.ts.
;;
;; update_product($a, $n, $j0, $m, $u, $q, $v, $p), all offsets in bytes into the exported memory:
;;   A at $a: row-major, row stride $n float64; only the lower triangle of rows $j0..$m-1 is touched.
;;   For every row $j0 ≤ j < $m and column k ≤ j:   A[j][k] -= u[j]·q[k] + q[j]·u[k]   (the rank-2 update)
;;   and with the updated values:            p[k] += A[j][k]·v[j] (k < j),  p[j] += Σ_{k<j} A[j][k]·v[k] + A[j][j]·v[j]
;;   i.e. p += S·v for the updated symmetric block S (the next step's matrix–vector product); p is zeroed by
;;   the caller. With u = q = 0 it is the plain product (A − 0 = A exactly).
;; update_product2 does the same for rows 0..$m-1 ($m even) two rows at a time: each column pair of q, u, v and p
;; is loaded once for both rows (the pass is bound by loads and stores, not arithmetic), which changes only the
;; order in which p's sums are rounded. The caller finishes an odd last row with update_product.
;; Plain IEEE mul/add, no FMA: the same bits on every engine.
(module
  (memory (export "memory") 1)

  (func (export "update_product")
    (param $a i32) (param $n i32) (param $j0 i32) (param $m i32) (param $u i32) (param $q i32) (param $v i32) (param $p i32)
    (local $j i32) (local $row i32) (local $stride i32) (local $kb i32) (local $end i32) (local $jb i32)
    (local $uj f64) (local $qj f64) (local $vj f64) (local $s f64) (local $x0 f64)
    (local $suj v128) (local $sqj v128) (local $svj v128) (local $acc v128) (local $x v128)
    (local.set $stride (i32.shl (local.get $n) (i32.const 3)))
    (local.set $j (local.get $j0))
    (local.set $row (i32.add (local.get $a) (i32.mul (local.get $j0) (local.get $stride))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $j) (local.get $m)))
        (local.set $jb (i32.shl (local.get $j) (i32.const 3)))
        (local.set $uj (f64.load (i32.add (local.get $u) (local.get $jb))))
        (local.set $qj (f64.load (i32.add (local.get $q) (local.get $jb))))
        (local.set $vj (f64.load (i32.add (local.get $v) (local.get $jb))))
        (local.set $suj (f64x2.splat (local.get $uj)))
        (local.set $sqj (f64x2.splat (local.get $qj)))
        (local.set $svj (f64x2.splat (local.get $vj)))
        (local.set $acc (v128.const f64x2 0 0))
        (local.set $end (i32.shl (i32.and (local.get $j) (i32.const -2)) (i32.const 3)))
        (local.set $kb (i32.const 0))
        (block $pdone
          (loop $pairs
            (br_if $pdone (i32.ge_u (local.get $kb) (local.get $end)))
            (local.set $x
              (f64x2.sub
                (v128.load (i32.add (local.get $row) (local.get $kb)))
                (f64x2.add
                  (f64x2.mul (local.get $suj) (v128.load (i32.add (local.get $q) (local.get $kb))))
                  (f64x2.mul (local.get $sqj) (v128.load (i32.add (local.get $u) (local.get $kb)))))))
            (v128.store (i32.add (local.get $row) (local.get $kb)) (local.get $x))
            (local.set $acc
              (f64x2.add (local.get $acc)
                (f64x2.mul (local.get $x) (v128.load (i32.add (local.get $v) (local.get $kb))))))
            (v128.store (i32.add (local.get $p) (local.get $kb))
              (f64x2.add (v128.load (i32.add (local.get $p) (local.get $kb)))
                (f64x2.mul (local.get $x) (local.get $svj))))
            (local.set $kb (i32.add (local.get $kb) (i32.const 16)))
            (br $pairs)))
        (local.set $s
          (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))
        ;; odd j: column j-1 (at byte $end) is left over
        (if (i32.and (local.get $j) (i32.const 1))
          (then
            (local.set $x0
              (f64.sub (f64.load (i32.add (local.get $row) (local.get $end)))
                (f64.add
                  (f64.mul (local.get $uj) (f64.load (i32.add (local.get $q) (local.get $end))))
                  (f64.mul (local.get $qj) (f64.load (i32.add (local.get $u) (local.get $end)))))))
            (f64.store (i32.add (local.get $row) (local.get $end)) (local.get $x0))
            (local.set $s
              (f64.add (local.get $s) (f64.mul (local.get $x0) (f64.load (i32.add (local.get $v) (local.get $end))))))
            (f64.store (i32.add (local.get $p) (local.get $end))
              (f64.add (f64.load (i32.add (local.get $p) (local.get $end)))
                (f64.mul (local.get $x0) (local.get $vj))))))
        ;; the diagonal
        (local.set $x0
          (f64.sub (f64.load (i32.add (local.get $row) (local.get $jb)))
            (f64.add (f64.mul (local.get $uj) (local.get $qj)) (f64.mul (local.get $qj) (local.get $uj)))))
        (f64.store (i32.add (local.get $row) (local.get $jb)) (local.get $x0))
        (f64.store (i32.add (local.get $p) (local.get $jb))
          (f64.add (f64.load (i32.add (local.get $p) (local.get $jb)))
            (f64.add (local.get $s) (f64.mul (local.get $x0) (local.get $vj)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (br $rows))))

  (func (export "update_product2")
    (param $a i32) (param $n i32) (param $m i32) (param $u i32) (param $q i32) (param $v i32) (param $p i32)
    (local $j i32) (local $r0 i32) (local $r1 i32) (local $stride i32) (local $kb i32) (local $jb i32) (local $j1b i32)
    (local $u0 f64) (local $q0 f64) (local $v0 f64) (local $u1 f64) (local $q1 f64) (local $v1 f64)
    (local $s0 f64) (local $s1 f64) (local $x f64)
    (local $su0 v128) (local $sq0 v128) (local $sv0 v128) (local $su1 v128) (local $sq1 v128) (local $sv1 v128)
    (local $acc0 v128) (local $acc1 v128) (local $x0 v128) (local $x1 v128)
    (local $qk v128) (local $uk v128) (local $vk v128)
    (local.set $stride (i32.shl (local.get $n) (i32.const 3)))
    (local.set $r0 (local.get $a))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (i32.add (local.get $j) (i32.const 1)) (local.get $m)))
        (local.set $r1 (i32.add (local.get $r0) (local.get $stride)))
        (local.set $jb (i32.shl (local.get $j) (i32.const 3)))
        (local.set $j1b (i32.add (local.get $jb) (i32.const 8)))
        (local.set $u0 (f64.load (i32.add (local.get $u) (local.get $jb))))
        (local.set $q0 (f64.load (i32.add (local.get $q) (local.get $jb))))
        (local.set $v0 (f64.load (i32.add (local.get $v) (local.get $jb))))
        (local.set $u1 (f64.load (i32.add (local.get $u) (local.get $j1b))))
        (local.set $q1 (f64.load (i32.add (local.get $q) (local.get $j1b))))
        (local.set $v1 (f64.load (i32.add (local.get $v) (local.get $j1b))))
        (local.set $su0 (f64x2.splat (local.get $u0)))
        (local.set $sq0 (f64x2.splat (local.get $q0)))
        (local.set $sv0 (f64x2.splat (local.get $v0)))
        (local.set $su1 (f64x2.splat (local.get $u1)))
        (local.set $sq1 (f64x2.splat (local.get $q1)))
        (local.set $sv1 (f64x2.splat (local.get $v1)))
        (local.set $acc0 (v128.const f64x2 0 0))
        (local.set $acc1 (v128.const f64x2 0 0))
        (local.set $kb (i32.const 0))
        ;; columns 0..j-1 (j is even: whole pairs)
        (block $pdone
          (loop $pairs
            (br_if $pdone (i32.ge_u (local.get $kb) (local.get $jb)))
            (local.set $qk (v128.load (i32.add (local.get $q) (local.get $kb))))
            (local.set $uk (v128.load (i32.add (local.get $u) (local.get $kb))))
            (local.set $vk (v128.load (i32.add (local.get $v) (local.get $kb))))
            (local.set $x0
              (f64x2.sub (v128.load (i32.add (local.get $r0) (local.get $kb)))
                (f64x2.add (f64x2.mul (local.get $su0) (local.get $qk)) (f64x2.mul (local.get $sq0) (local.get $uk)))))
            (local.set $x1
              (f64x2.sub (v128.load (i32.add (local.get $r1) (local.get $kb)))
                (f64x2.add (f64x2.mul (local.get $su1) (local.get $qk)) (f64x2.mul (local.get $sq1) (local.get $uk)))))
            (v128.store (i32.add (local.get $r0) (local.get $kb)) (local.get $x0))
            (v128.store (i32.add (local.get $r1) (local.get $kb)) (local.get $x1))
            (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $x0) (local.get $vk))))
            (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $x1) (local.get $vk))))
            (v128.store (i32.add (local.get $p) (local.get $kb))
              (f64x2.add (v128.load (i32.add (local.get $p) (local.get $kb)))
                (f64x2.add (f64x2.mul (local.get $x0) (local.get $sv0)) (f64x2.mul (local.get $x1) (local.get $sv1)))))
            (local.set $kb (i32.add (local.get $kb) (i32.const 16)))
            (br $pairs)))
        (local.set $s0 (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0))))
        (local.set $s1 (f64.add (f64x2.extract_lane 0 (local.get $acc1)) (f64x2.extract_lane 1 (local.get $acc1))))
        ;; row j+1, column j
        (local.set $x
          (f64.sub (f64.load (i32.add (local.get $r1) (local.get $jb)))
            (f64.add (f64.mul (local.get $u1) (local.get $q0)) (f64.mul (local.get $q1) (local.get $u0)))))
        (f64.store (i32.add (local.get $r1) (local.get $jb)) (local.get $x))
        (local.set $s1 (f64.add (local.get $s1) (f64.mul (local.get $x) (local.get $v0))))
        (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $x) (local.get $v1))))
        ;; diagonal of row j: p[j] += Σ_{k<j} A[j][k]·v[k] + A[j][j]·v[j] + A[j+1][j]·v[j+1] (the last one in $s0)
        (local.set $x
          (f64.sub (f64.load (i32.add (local.get $r0) (local.get $jb)))
            (f64.add (f64.mul (local.get $u0) (local.get $q0)) (f64.mul (local.get $q0) (local.get $u0)))))
        (f64.store (i32.add (local.get $r0) (local.get $jb)) (local.get $x))
        (f64.store (i32.add (local.get $p) (local.get $jb))
          (f64.add (f64.load (i32.add (local.get $p) (local.get $jb)))
            (f64.add (local.get $s0) (f64.mul (local.get $x) (local.get $v0)))))
        ;; diagonal of row j+1
        (local.set $x
          (f64.sub (f64.load (i32.add (local.get $r1) (local.get $j1b)))
            (f64.add (f64.mul (local.get $u1) (local.get $q1)) (f64.mul (local.get $q1) (local.get $u1)))))
        (f64.store (i32.add (local.get $r1) (local.get $j1b)) (local.get $x))
        (f64.store (i32.add (local.get $p) (local.get $j1b))
          (f64.add (f64.load (i32.add (local.get $p) (local.get $j1b)))
            (f64.add (local.get $s1) (f64.mul (local.get $x) (local.get $v1)))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (local.set $r0 (i32.add (local.get $r1) (local.get $stride)))
        (br $rows))))
)
