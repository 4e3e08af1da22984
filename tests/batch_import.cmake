# ---- batch: the import job kind (csv.c, import.c, import_map.c) and
# `strata import`. The CSV reader's test and fuzz target compile csv.c
# directly (it needs only core); the import test links strata_batch and
# runs on a real seglog topic and a SQLite store.
add_executable(test_batch_csv unit/batch/csv.c ${CMAKE_SOURCE_DIR}/src/batch/csv.c)
target_link_libraries(test_batch_csv PRIVATE strata_core ${CMOCKA_LIB})
add_test(NAME unit/batch/csv COMMAND test_batch_csv)

strata_unit_test(batch import strata_batch)

strata_fuzz_target(batch_csv strata_core)
target_sources(fuzz_replay_batch_csv PRIVATE ${CMAKE_SOURCE_DIR}/src/batch/csv.c)
if(STRATA_FUZZ)
  target_sources(fuzz_batch_csv PRIVATE ${CMAKE_SOURCE_DIR}/src/batch/csv.c)
endif()

# The bank transactions sample through `strata import` with the example
# config, checked against Python's csv module; re-import skipped; a killed
# import resumed without duplicates. On SQLite, and on a throwaway
# PostgreSQL cluster.
add_test(NAME integration/batch/import
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/import.sh $<TARGET_FILE:strata>)
add_test(NAME integration/batch/import_postgres
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/pg/with_pg.sh
    ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/import.sh $<TARGET_FILE:strata>)
set_tests_properties(integration/batch/import integration/batch/import_postgres
  PROPERTIES TIMEOUT 600)
# ---- end of the import block.
