  .globl _start
_start:
  li t0, 250000000
  la a0, buf
  1: add t1,t1,t0
  xor t2,t2,t1
  slli t3,t1,3
  sub t2,t2,t3
  srli t4,t2,7
  or t1,t1,t4
  addi t0,t0,-1
  bnez t0,1b
  li a0, 0
  li a7, 93
  ecall
  .bss
  .balign 4096
buf: .space 8396800
