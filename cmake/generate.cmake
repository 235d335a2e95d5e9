# cmake -DFLOTILLA=BIN "-DARGS=help --man" -DOUT=FILE -P cmake/generate.cmake
# Writes what the built flotilla prints for ARGS into OUT (the man page and
# the completion scripts come from the binary's option tables); a failure
# fails the build and leaves no half-written OUT behind.
separate_arguments(ARGS UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${FLOTILLA} ${ARGS} OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	file(REMOVE ${OUT}.tmp)
	message(FATAL_ERROR "flotilla ${ARGS} failed (${rc}): ${OUT} not written")
endif()
file(RENAME ${OUT}.tmp ${OUT})
