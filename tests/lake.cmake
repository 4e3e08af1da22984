# ---- lake: the Parquet writer (src/lake/). Unit tests of the Thrift
# compact encoder, the encodings and the writer's contract; the writer's
# fuzz target; and round trips through two independent readers, DuckDB and
# hyparquet (tests/node), which compare every value, the statistics, the
# schema and the layout of each file.
if(TARGET strata_lake)
  foreach(t thrift encode writer)
    strata_unit_test(lake ${t} strata_lake)
  endforeach()
  strata_fuzz_target(lake_writer strata_lake)

  add_executable(test_lake_files integration/lake/write_files.c)
  target_link_libraries(test_lake_files PRIVATE strata_lake m)
  set(STRATA_LAKE_IT ${CMAKE_CURRENT_SOURCE_DIR}/integration/lake)
  foreach(reader duckdb hyparquet)
    add_test(NAME integration/lake/${reader}
      COMMAND ${STRATA_LAKE_IT}/roundtrip.sh ${reader} $<TARGET_FILE:test_lake_files>)
    set_tests_properties(integration/lake/${reader} PROPERTIES TIMEOUT 600)
  endforeach()
endif()
# ---- end of the lake block.
