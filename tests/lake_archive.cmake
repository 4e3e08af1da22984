# ---- lake: the archive sink (src/lake/archive.c). Its unit tests drive it
# through the stream runtime and through a simulator of the runtime's calls
# that can crash between any two of them; the integration tests run `strata
# up` over generated events (once, and under kill -9 restarts) and check
# the lake with DuckDB (tests/node).
if(TARGET strata_lake)
  strata_unit_test(lake archive strata_lake)

  set(STRATA_LAKE_ARC_IT ${CMAKE_CURRENT_SOURCE_DIR}/integration/lake)
  add_test(NAME integration/lake/archive
    COMMAND ${STRATA_LAKE_ARC_IT}/archive.sh $<TARGET_FILE:strata>)
  add_test(NAME integration/lake/archive_crash
    COMMAND ${STRATA_LAKE_ARC_IT}/archive_crash.sh $<TARGET_FILE:strata> 12)
  set_tests_properties(integration/lake/archive integration/lake/archive_crash
    PROPERTIES TIMEOUT 900)
endif()
# ---- end of the archive block.
