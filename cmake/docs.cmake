# SPDX-License-Identifier: Apache-2.0
# The user documentation (docs/*.md) and the man pages of the three programs, for `cmake --install` and the
# Debian packages. The man pages are generated from each program's --help and --version by help2man (a Debian
# package, scripts/deps.sh build) with the NAME and SEE ALSO sections of packaging/man/*.h2m; without help2man
# they are skipped with a notice.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION share/doc/slipway FILES_MATCHING PATTERN "*.md")

# the docs stand alone: nothing points outside the repository, every agent key and server setting is documented
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME check/docs COMMAND Python3::Interpreter ${CMAKE_SOURCE_DIR}/scripts/check-docs.py
    --program $<TARGET_FILE:slipway-server> --program $<TARGET_FILE:slipway-agent> --program $<TARGET_FILE:slipway>)
  # and the check finds what it should: a tree whose README cites design notes the user does not have
  add_test(NAME check/docs-fails COMMAND Python3::Interpreter ${CMAKE_SOURCE_DIR}/scripts/check-docs.py
    --root ${CMAKE_SOURCE_DIR}/tests/docs-fixture)
  set_tests_properties(check/docs-fails PROPERTIES WILL_FAIL TRUE)
  set_tests_properties(check/docs check/docs-fails PROPERTIES LABELS check TIMEOUT 60)
endif()

find_program(HELP2MAN help2man)
if(NOT HELP2MAN)
  message(STATUS "help2man not found: man pages are not built (scripts/deps.sh build installs it)")
  return()
endif()
set(SLIPWAY_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(SLIPWAY_MAN_PAGES)
# program target, section, directory of the binary in the build tree
foreach(spec "slipway-server;1;src/server" "slipway-agent;8;src/agent" "slipway;1;src/cli")
  list(GET spec 0 prog)
  list(GET spec 1 section)
  list(GET spec 2 dir)
  set(page ${SLIPWAY_MAN_DIR}/${prog}.${section})
  set(h2m ${CMAKE_SOURCE_DIR}/packaging/man/${prog}.h2m)
  add_custom_command(OUTPUT ${page}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${SLIPWAY_MAN_DIR}
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=${section} --include=${h2m}
            --output=${page} ${CMAKE_BINARY_DIR}/${dir}/${prog}
    DEPENDS ${prog} ${h2m}
    COMMENT "man page ${prog}(${section})"
    VERBATIM)
  list(APPEND SLIPWAY_MAN_PAGES ${page})
  install(FILES ${page} DESTINATION share/man/man${section})
endforeach()
add_custom_target(man ALL DEPENDS ${SLIPWAY_MAN_PAGES})
