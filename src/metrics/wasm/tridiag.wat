;; Householder tridiagonalisation of a symmetric matrix (eigenvalues only), WebAssembly SIMD (f64x2).
;;
;; Source of src/metrics/wasm/tridiag-wasm.ts (assembled by `node scripts/build-wasm.mjs`). Glue, the JS twin
;; and the eigenvalues after it: src/metrics/sym-eigenvalues.ts.
;;
;; tridiagonalize($a, $n, $factor, $u, $q, $v, $p, $d, $e): the whole reduction in one call (the JS
;; `tridiagonalize` step by step, Numerical Recipes' tred2 order, rows from the last one up): A at $a is the
;; n × n row-major matrix (lower triangle read, first multiplied by $factor, a power of two, then destroyed);
;; on return d[i] = A[i][i] and e[i] = element (i + 1, i) for i < n − 1 (e[n − 1] not written); u, q, v and p
;; are n-vectors of scratch, all offsets in bytes, vectors on 16-byte boundaries. Each step:
;; the row's Householder vector (computed at the end of the previous step, while row l was being updated, and
;; kept: u and v swap roles), p = S·u/h and fsum = uᵀp, q = p − (fsum/2h)·u with row l updated as q is formed,
;; row l's Householder vector into v, then the fused pass (update_product2, update_product) on rows 0..l−1.
;; Sums (the row scale Σ|a|, h = Σx², fsum) are sequential in column order as in JS; only elementwise operations
;; run two lanes at a time, so the results are the bits of the former JS loop around the per-step pass
;; (bench/eigen-bits.ts prints the same digest for both builds).
;;
;; The per-step pass (internal), update_product($a, $n, $j0, $m, $u, $q, $v, $p), offsets in bytes into memory:
;;   A at $a: row-major, row stride $n float64; only the lower triangle of rows $j0..$m-1 is touched.
;;   For every row $j0 ≤ j < $m and column k ≤ j:   A[j][k] -= u[j]·q[k] + q[j]·u[k]   (the rank-2 update)
;;   and with the updated values:            p[k] += A[j][k]·v[j] (k < j),  p[j] += Σ_{k<j} A[j][k]·v[k] + A[j][j]·v[j]
;;   i.e. p += S·v for the updated symmetric block S (the next step's matrix–vector product); p is zeroed by
;;   the caller. With q = 0 it is the plain product (A − (u·0 + 0·u) = A exactly).
;; update_product2 does the same for rows 0..$m-1 ($m even) two rows at a time: each column pair of q, u, v and p
;; is loaded once for both rows (the pass is bound by loads and stores, not arithmetic), which changes only the
;; order in which p's sums are rounded. The caller finishes an odd last row with update_product.
;; Plain IEEE mul/add, no FMA: the same bits on every engine.
(module
  (memory (export "memory") 1)

  (func $update_product
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

  (func $update_product2
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

  ;; The reflector of the row it last computed ($reflect): h (tred2's ‖x‖²/2 form) and the sub-diagonal element.
  (global $h (mut f64) (f64.const 0))
  (global $off (mut f64) (f64.const 0))

  ;; Σ_{k≤l} |A[row][k]|, summed in order (0 for l < 0): the reflector's scale, 0 for a zero row.
  (func $abs_sum (param $row i32) (param $l i32) (result f64)
    (local $kb i32) (local $end i32) (local $s f64)
    (local.set $end (i32.shl (i32.add (local.get $l) (i32.const 1)) (i32.const 3)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $kb) (local.get $end)))
        (local.set $s (f64.add (local.get $s) (f64.abs (f64.load (i32.add (local.get $row) (local.get $kb))))))
        (local.set $kb (i32.add (local.get $kb) (i32.const 8)))
        (br $next)))
    (local.get $s))

  ;; The Householder vector of row $row over columns 0..$l ($l ≥ 0, $scale = Σ|A[row][k]| > 0), written to $x:
  ;; x[k] = A[row][k]/scale (elementwise, so two at a time), h = Σ x[k]² in order, g = ∓√h (sign opposite to
  ;; f = x[l]), h −= f·g, x[l] = f − g; h and scale·g left in $h and $off.
  (func $reflect (param $row i32) (param $l i32) (param $x i32) (param $scale f64)
    (local $kb i32) (local $pairs i32) (local $end i32) (local $lb i32)
    (local $h f64) (local $t f64) (local $f f64) (local $g f64) (local $sc v128) (local $tv v128) (local $tt v128)
    (local.set $lb (i32.shl (local.get $l) (i32.const 3)))
    (local.set $end (i32.add (local.get $lb) (i32.const 8)))
    (local.set $pairs (i32.and (local.get $end) (i32.const -16)))
    (local.set $sc (f64x2.splat (local.get $scale)))
    (block $pdone
      (loop $pair
        (br_if $pdone (i32.ge_u (local.get $kb) (local.get $pairs)))
        (local.set $tv (f64x2.div (v128.load (i32.add (local.get $row) (local.get $kb))) (local.get $sc)))
        (v128.store (i32.add (local.get $x) (local.get $kb)) (local.get $tv))
        (local.set $tt (f64x2.mul (local.get $tv) (local.get $tv)))
        (local.set $h (f64.add (local.get $h) (f64x2.extract_lane 0 (local.get $tt))))
        (local.set $h (f64.add (local.get $h) (f64x2.extract_lane 1 (local.get $tt))))
        (local.set $kb (i32.add (local.get $kb) (i32.const 16)))
        (br $pair)))
    ;; an odd count: column l is left over
    (if (i32.lt_u (local.get $kb) (local.get $end))
      (then
        (local.set $t (f64.div (f64.load (i32.add (local.get $row) (local.get $kb))) (local.get $scale)))
        (f64.store (i32.add (local.get $x) (local.get $kb)) (local.get $t))
        (local.set $h (f64.add (local.get $h) (f64.mul (local.get $t) (local.get $t))))))
    (local.set $f (f64.load (i32.add (local.get $x) (local.get $lb))))
    (local.set $g (f64.sqrt (local.get $h)))
    (if (f64.ge (local.get $f) (f64.const 0)) (then (local.set $g (f64.neg (local.get $g)))))
    (local.set $h (f64.sub (local.get $h) (f64.mul (local.get $f) (local.get $g))))
    (f64.store (i32.add (local.get $x) (local.get $lb)) (f64.sub (local.get $f) (local.get $g)))
    (global.set $h (local.get $h))
    (global.set $off (f64.mul (local.get $scale) (local.get $g))))

  ;; The fused pass over rows 0..$m-1: pairs of rows, then an odd last row.
  (func $update_rows (param $a i32) (param $n i32) (param $m i32) (param $u i32) (param $q i32) (param $v i32) (param $p i32)
    (local $even i32)
    (local.set $even (i32.and (local.get $m) (i32.const -2)))
    (call $update_product2 (local.get $a) (local.get $n) (local.get $even)
      (local.get $u) (local.get $q) (local.get $v) (local.get $p))
    (call $update_product (local.get $a) (local.get $n) (local.get $even) (local.get $m)
      (local.get $u) (local.get $q) (local.get $v) (local.get $p)))

  (func (export "tridiagonalize")
    (param $a i32) (param $n i32) (param $factor f64) (param $u i32) (param $q i32) (param $v i32) (param $p i32)
    (param $d i32) (param $e i32)
    (local $i i32) (local $l i32) (local $lb i32) (local $end i32) (local $pairs i32) (local $kb i32)
    (local $row i32) (local $rowL i32) (local $stride i32) (local $ready i32) (local $swap i32)
    (local $scale f64) (local $h f64) (local $invH f64) (local $fsum f64) (local $kk f64) (local $ul f64) (local $ql f64)
    (local $x f64) (local $qk f64)
    (local $sInvH v128) (local $sKk v128) (local $sUl v128) (local $sQl v128) (local $pv v128) (local $uv v128)
    (local $qv v128) (local $xv v128) (local $sFactor v128)
    (local.set $stride (i32.shl (local.get $n) (i32.const 3)))
    ;; the lower triangle times $factor (a power of two: exact), elementwise
    (local.set $sFactor (f64x2.splat (local.get $factor)))
    (local.set $row (local.get $a))
    (block $sdone
      (loop $srow
        (br_if $sdone (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $end (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 3)))
        (local.set $pairs (i32.and (local.get $end) (i32.const -16)))
        (local.set $kb (i32.const 0))
        (block $spdone
          (loop $spair
            (br_if $spdone (i32.ge_u (local.get $kb) (local.get $pairs)))
            (v128.store (i32.add (local.get $row) (local.get $kb))
              (f64x2.mul (v128.load (i32.add (local.get $row) (local.get $kb))) (local.get $sFactor)))
            (local.set $kb (i32.add (local.get $kb) (i32.const 16)))
            (br $spair)))
        (if (i32.lt_u (local.get $kb) (local.get $end))
          (then
            (f64.store (i32.add (local.get $row) (local.get $kb))
              (f64.mul (f64.load (i32.add (local.get $row) (local.get $kb))) (local.get $factor)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (br $srow)))
    (if (i32.ge_s (local.get $n) (i32.const 2))
      (then
        ;; the last row's reflector into u
        (local.set $i (i32.sub (local.get $n) (i32.const 1)))
        (local.set $row (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $stride))))
        (local.set $scale (call $abs_sum (local.get $row) (i32.sub (local.get $i) (i32.const 1))))
        (if (f64.ne (local.get $scale) (f64.const 0))
          (then (call $reflect (local.get $row) (i32.sub (local.get $i) (i32.const 1)) (local.get $u) (local.get $scale))))
        (block $done
          (loop $steps
            (br_if $done (i32.lt_s (local.get $i) (i32.const 1)))
            (local.set $l (i32.sub (local.get $i) (i32.const 1)))
            (local.set $lb (i32.shl (local.get $l) (i32.const 3)))
            (local.set $end (i32.add (local.get $lb) (i32.const 8)))
            (local.set $pairs (i32.and (local.get $end) (i32.const -16)))
            (local.set $rowL (i32.sub (local.get $row) (local.get $stride)))
            (if (f64.eq (local.get $scale) (f64.const 0))
              (then
                ;; the row is zero left of its sub-diagonal entry: nothing to reduce; the next row's reflector afresh
                (f64.store (i32.add (local.get $e) (local.get $lb)) (f64.load (i32.add (local.get $row) (local.get $lb))))
                (local.set $ready (i32.const 0))
                (local.set $scale (call $abs_sum (local.get $rowL) (i32.sub (local.get $l) (i32.const 1))))
                (if (f64.ne (local.get $scale) (f64.const 0))
                  (then (call $reflect (local.get $rowL) (i32.sub (local.get $l) (i32.const 1)) (local.get $u) (local.get $scale)))))
              (else
                (local.set $h (global.get $h))
                (f64.store (i32.add (local.get $e) (local.get $lb)) (global.get $off))
                (if (i32.eqz (local.get $ready))
                  (then
                    ;; p = S·u: the fused pass with a zero update (A − 0 = A exactly) and v = u
                    (local.set $kb (i32.const 0))
                    (block $zdone
                      (loop $zero
                        (br_if $zdone (i32.ge_u (local.get $kb) (local.get $end)))
                        (f64.store (i32.add (local.get $q) (local.get $kb)) (f64.const 0))
                        (f64.store (i32.add (local.get $p) (local.get $kb)) (f64.const 0))
                        (local.set $kb (i32.add (local.get $kb) (i32.const 8)))
                        (br $zero)))
                    (call $update_rows (local.get $a) (local.get $n) (i32.add (local.get $l) (i32.const 1))
                      (local.get $u) (local.get $q) (local.get $u) (local.get $p))))
                ;; p = S·u/h (elementwise), fsum = Σ p[j]·u[j] in order
                (local.set $invH (f64.div (f64.const 1) (local.get $h)))
                (local.set $sInvH (f64x2.splat (local.get $invH)))
                (local.set $fsum (f64.const 0))
                (local.set $kb (i32.const 0))
                (block $fdone
                  (loop $fpair
                    (br_if $fdone (i32.ge_u (local.get $kb) (local.get $pairs)))
                    (local.set $pv (f64x2.mul (v128.load (i32.add (local.get $p) (local.get $kb))) (local.get $sInvH)))
                    (v128.store (i32.add (local.get $p) (local.get $kb)) (local.get $pv))
                    (local.set $xv (f64x2.mul (local.get $pv) (v128.load (i32.add (local.get $u) (local.get $kb)))))
                    (local.set $fsum (f64.add (local.get $fsum) (f64x2.extract_lane 0 (local.get $xv))))
                    (local.set $fsum (f64.add (local.get $fsum) (f64x2.extract_lane 1 (local.get $xv))))
                    (local.set $kb (i32.add (local.get $kb) (i32.const 16)))
                    (br $fpair)))
                (if (i32.lt_u (local.get $kb) (local.get $end))
                  (then
                    (local.set $x (f64.mul (f64.load (i32.add (local.get $p) (local.get $kb))) (local.get $invH)))
                    (f64.store (i32.add (local.get $p) (local.get $kb)) (local.get $x))
                    (local.set $fsum
                      (f64.add (local.get $fsum) (f64.mul (local.get $x) (f64.load (i32.add (local.get $u) (local.get $kb))))))))
                (local.set $kk (f64.div (local.get $fsum) (f64.add (local.get $h) (local.get $h))))
                ;; q = p − kk·u; row l −= u[l]·q + q[l]·u as q is formed; p zeroed for the next product; and the
                ;; next reflector's scale Σ_{k<l} |A[l][k]| (in order) from the updated values
                (local.set $ul (f64.load (i32.add (local.get $u) (local.get $lb))))
                (local.set $ql
                  (f64.sub (f64.load (i32.add (local.get $p) (local.get $lb))) (f64.mul (local.get $kk) (local.get $ul))))
                (local.set $sKk (f64x2.splat (local.get $kk)))
                (local.set $sUl (f64x2.splat (local.get $ul)))
                (local.set $sQl (f64x2.splat (local.get $ql)))
                (local.set $scale (f64.const 0))
                (local.set $pairs (i32.and (local.get $lb) (i32.const -16)))
                (local.set $kb (i32.const 0))
                (block $qdone
                  (loop $qpair
                    (br_if $qdone (i32.ge_u (local.get $kb) (local.get $pairs)))
                    (local.set $uv (v128.load (i32.add (local.get $u) (local.get $kb))))
                    (local.set $qv
                      (f64x2.sub (v128.load (i32.add (local.get $p) (local.get $kb))) (f64x2.mul (local.get $sKk) (local.get $uv))))
                    (v128.store (i32.add (local.get $q) (local.get $kb)) (local.get $qv))
                    (local.set $xv
                      (f64x2.sub (v128.load (i32.add (local.get $rowL) (local.get $kb)))
                        (f64x2.add (f64x2.mul (local.get $sUl) (local.get $qv)) (f64x2.mul (local.get $sQl) (local.get $uv)))))
                    (v128.store (i32.add (local.get $rowL) (local.get $kb)) (local.get $xv))
                    (v128.store (i32.add (local.get $p) (local.get $kb)) (v128.const f64x2 0 0))
                    (local.set $scale (f64.add (local.get $scale) (f64.abs (f64x2.extract_lane 0 (local.get $xv)))))
                    (local.set $scale (f64.add (local.get $scale) (f64.abs (f64x2.extract_lane 1 (local.get $xv)))))
                    (local.set $kb (i32.add (local.get $kb) (i32.const 16)))
                    (br $qpair)))
                ;; the last one or two columns (column l, the diagonal, is not in the scale)
                (block $rdone
                  (loop $rest
                    (br_if $rdone (i32.ge_u (local.get $kb) (local.get $end)))
                    (local.set $qk
                      (f64.sub (f64.load (i32.add (local.get $p) (local.get $kb)))
                        (f64.mul (local.get $kk) (f64.load (i32.add (local.get $u) (local.get $kb))))))
                    (f64.store (i32.add (local.get $q) (local.get $kb)) (local.get $qk))
                    (local.set $x
                      (f64.sub (f64.load (i32.add (local.get $rowL) (local.get $kb)))
                        (f64.add (f64.mul (local.get $ul) (local.get $qk))
                          (f64.mul (local.get $ql) (f64.load (i32.add (local.get $u) (local.get $kb)))))))
                    (f64.store (i32.add (local.get $rowL) (local.get $kb)) (local.get $x))
                    (f64.store (i32.add (local.get $p) (local.get $kb)) (f64.const 0))
                    (if (i32.lt_u (local.get $kb) (local.get $lb))
                      (then (local.set $scale (f64.add (local.get $scale) (f64.abs (local.get $x))))))
                    (local.set $kb (i32.add (local.get $kb) (i32.const 8)))
                    (br $rest)))
                ;; the next step's reflector into v, then rows 0..l-1 updated with p += S·v (unused when row l is
                ;; zero, or l = 0); v becomes the next step's u
                (local.set $ready (f64.ne (local.get $scale) (f64.const 0)))
                (if (local.get $ready)
                  (then (call $reflect (local.get $rowL) (i32.sub (local.get $l) (i32.const 1)) (local.get $v) (local.get $scale))))
                (call $update_rows (local.get $a) (local.get $n) (local.get $l)
                  (local.get $u) (local.get $q) (local.get $v) (local.get $p))
                (local.set $swap (local.get $u))
                (local.set $u (local.get $v))
                (local.set $v (local.get $swap))))
            (local.set $i (local.get $l))
            (local.set $row (local.get $rowL))
            (br $steps)))))
    ;; the diagonal
    (local.set $i (i32.const 0))
    (local.set $row (local.get $a))
    (block $ddone
      (loop $diag
        (br_if $ddone (i32.ge_s (local.get $i) (local.get $n)))
        (f64.store (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 3)))
          (f64.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (br $diag))))
)
