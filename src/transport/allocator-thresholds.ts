import { Buffer } from 'node:buffer';

/**
 * Lets the C allocator keep the memory that large messages leave behind.
 *
 * Messages over 16 KiB are assembled in 256 KiB blocks (MessageSlab), which the garbage
 * collector frees tens of megabytes at a time. glibc gives freed memory at the top of its
 * heap back to the kernel once more than its trim threshold lies there (128 KiB, or twice
 * the largest mmapped block freed so far), so each batch went back with `brk` and the next
 * blocks were faulted in again, cold: the kernel's copy into them and the unmasking over
 * them cost about twice what they cost in reused memory. 64 KiB echo measured 60-70 µs of
 * server CPU per message, against 37-40 µs with the thresholds raised.
 *
 * glibc raises both thresholds itself when an mmapped block is freed (its dynamic rule:
 * mmap threshold = that block's size, up to 32 MiB; trim threshold = twice that). Freeing
 * one 32 MiB block, never touched, so never resident, sets them to 32 and 64 MiB. The price
 * is that up to 64 MiB of freed memory may stay with the process. Where the thresholds
 * were set by the user (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, mallopt) glibc
 * keeps them, and other allocators ignore the block: then this changes nothing.
 */
const BLOCK = 32 * 1024 * 1024 - 64 * 1024;

let raised = false;

/** Once per process: allocates and drops the block; the next collection frees it. */
export function raiseAllocatorThresholds(): void {
  if (raised) return;
  raised = true;
  Buffer.allocUnsafeSlow(BLOCK);
}
