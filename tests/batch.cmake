# ---- batch: schedules (tz.c, cron.c). Compiled from their sources directly,
# not through strata_batch, so they build while the rest of src/batch/ (the
# job runner) is being written. The tests read the system tz database
# (/usr/share/zoneinfo, Debian package tzdata).
set(STRATA_SCHEDULE_SOURCES ${CMAKE_SOURCE_DIR}/src/batch/tz.c
  ${CMAKE_SOURCE_DIR}/src/batch/cron.c)
foreach(t tz cron)
  add_executable(test_batch_${t} unit/batch/${t}.c ${STRATA_SCHEDULE_SOURCES})
  target_link_libraries(test_batch_${t} PRIVATE strata_schema strata_core m ${CMOCKA_LIB})
  add_test(NAME unit/batch/${t} COMMAND test_batch_${t})
endforeach()

foreach(f batch_tzif batch_cron)
  add_executable(fuzz_replay_${f} fuzz/${f}.c fuzz/replay.c ${STRATA_SCHEDULE_SOURCES})
  target_link_libraries(fuzz_replay_${f} PRIVATE strata_schema strata_core m)
  add_test(NAME fuzz/${f} COMMAND fuzz_replay_${f} ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${f})
  if(STRATA_FUZZ)
    add_executable(fuzz_${f} fuzz/${f}.c ${STRATA_SCHEDULE_SOURCES})
    target_compile_options(fuzz_${f} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${f} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${f} PRIVATE strata_schema strata_core m)
  endif()
endforeach()
# ---- end of the schedules block.
