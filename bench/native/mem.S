  .globl _start
_start:
  li t0, 222222223
  la a0, buf
  1: andi a1,t0,0x3f8
  add a1,a1,a0
  ld t1,0(a1)
  add t1,t1,t0
  sd t1,0(a1)
  lw t2,4(a1)
  sw t2,1024(a1)
  addi t0,t0,-1
  bnez t0,1b
  li a0, 0
  li a7, 93
  ecall
  .bss
  .balign 4096
buf: .space 8396800
