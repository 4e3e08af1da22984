# ---- stream: aggregates and the window operator (agg.c, window.c).
# Compiled from their sources directly, not through strata_stream, so they
# build while the rest of src/stream/ is being written.
add_executable(test_stream_agg unit/stream/agg.c ${CMAKE_SOURCE_DIR}/src/stream/agg.c)
target_link_libraries(test_stream_agg PRIVATE strata_core m ${CMOCKA_LIB})
add_test(NAME unit/stream/agg COMMAND test_stream_agg)

add_executable(test_stream_window unit/stream/window.c ${CMAKE_SOURCE_DIR}/src/stream/window.c
  ${CMAKE_SOURCE_DIR}/src/stream/agg.c)
target_link_libraries(test_stream_window PRIVATE strata_core m ${CMOCKA_LIB})
add_test(NAME unit/stream/window COMMAND test_stream_window)
# ---- end of the aggregates and window operator block.

# ---- stream: the expression language (expr_parse.c, expr_eval.c,
# expr_func.c). Compiled from its sources directly, not through
# strata_stream, so it builds while the rest of src/stream/ is being written.
set(STRATA_EXPR_SOURCES ${CMAKE_SOURCE_DIR}/src/stream/expr_parse.c
  ${CMAKE_SOURCE_DIR}/src/stream/expr_eval.c ${CMAKE_SOURCE_DIR}/src/stream/expr_func.c)
add_executable(test_stream_expr unit/stream/expr.c ${STRATA_EXPR_SOURCES})
target_link_libraries(test_stream_expr PRIVATE strata_schema strata_core m ${CMOCKA_LIB})
add_test(NAME unit/stream/expr COMMAND test_stream_expr)

add_executable(fuzz_replay_stream_expr fuzz/stream_expr.c fuzz/replay.c ${STRATA_EXPR_SOURCES})
target_link_libraries(fuzz_replay_stream_expr PRIVATE strata_schema strata_core m)
add_test(NAME fuzz/stream_expr COMMAND fuzz_replay_stream_expr
  ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/stream_expr)
if(STRATA_FUZZ)
  add_executable(fuzz_stream_expr fuzz/stream_expr.c ${STRATA_EXPR_SOURCES})
  target_compile_options(fuzz_stream_expr PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_stream_expr PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_stream_expr PRIVATE strata_schema strata_core m)
endif()
# ---- end of the expression language block.
