# Unit tests of the wire codec (proto/) and of the broker core without any
# network (broker/core.c and the queue handlers behind it).
mpb_test(test_frame test_frame.c LIBS mpb_core)
mpb_test(test_core test_core.c LIBS mpb_core)
# Out-of-memory injection for reply building, and allocation counting
# (see test_core.c).
target_link_options(test_core PRIVATE "LINKER:--wrap=nng_msg_append"
  "LINKER:--wrap=nng_msg_alloc" "LINKER:--wrap=nng_msg_reserve"
  "LINKER:--wrap=malloc" "LINKER:--wrap=calloc" "LINKER:--wrap=realloc")
