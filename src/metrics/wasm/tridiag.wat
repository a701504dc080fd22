;; One fused step of Householder tridiagonalisation, WebAssembly SIMD (f64x2).
;;
;; Source of src/metrics/wasm/tridiag-wasm.ts (assembled by `node scripts/build-wasm.mjs`). Glue and the
;; algorithm around it: src/metrics/sym-eigenvalues.ts.
;;
;; update_product($a, $n, $m, $u, $q, $v, $p), all offsets in bytes into the exported memory:
;;   A at $a: row-major, row stride $n float64; only the lower triangle of rows 0..$m-1 is touched.
;;   For every row j < $m and column k ≤ j:   A[j][k] -= u[j]·q[k] + q[j]·u[k]   (the rank-2 update)
;;   and with the updated values:            p[k] += A[j][k]·v[j] (k < j),  p[j] += Σ_{k<j} A[j][k]·v[k] + A[j][j]·v[j]
;;   i.e. p += S·v for the updated symmetric block S (the next step's matrix–vector product); p is zeroed by
;;   the caller. With u = q = 0 it is the plain product (A − 0 = A exactly).
;; Plain IEEE mul/add, no FMA: the same bits on every engine.
(module
  (memory (export "memory") 1)

  (func (export "update_product")
    (param $a i32) (param $n i32) (param $m i32) (param $u i32) (param $q i32) (param $v i32) (param $p i32)
    (local $j i32) (local $row i32) (local $stride i32) (local $kb i32) (local $end i32) (local $jb i32)
    (local $uj f64) (local $qj f64) (local $vj f64) (local $s f64) (local $x0 f64)
    (local $suj v128) (local $sqj v128) (local $svj v128) (local $acc v128) (local $x v128)
    (local.set $stride (i32.shl (local.get $n) (i32.const 3)))
    (local.set $row (local.get $a))
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
)
