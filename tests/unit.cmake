# Unit tests of the broker's data structures (included by CMakeLists.txt).
mpb_test(test_deque test_deque.c LIBS mpb_core)
mpb_test(test_chunkq test_chunkq.c LIBS mpb_core TIMEOUT 120)
mpb_test(test_aof test_aof.c LIBS mpb_core TIMEOUT 120)
mpb_test(test_heap test_heap.c LIBS mpb_core)
mpb_test(test_htab test_htab.c LIBS mpb_core TIMEOUT 120)
mpb_test(test_store_dict test_store_dict.c LIBS mpb_core msgpackc)
