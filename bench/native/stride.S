  .globl _start
_start:
  li t0, 195218
  la a0, buf
  li a2,4096
  1: mv a1,a0
  li a3,1024
  slli a3,a3,1
  2: ld t1,0(a1)
  add t2,t2,t1
  add a1,a1,a2
  addi a3,a3,-1
  bnez a3,2b
  addi t0,t0,-1
  bnez t0,1b
  li a0, 0
  li a7, 93
  ecall
  .bss
  .balign 4096
buf: .space 8396800
