# Warnings applied per target with ls_warnings(<target>).
set(LS_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wcast-qual -Wmissing-prototypes
    -Wstrict-prototypes -Wformat=2 -Wvla -Wundef -Wpointer-arith -Wno-format-nonliteral)
if(LS_WERROR)
    list(APPEND LS_WARNING_FLAGS -Werror)
endif()

function(ls_warnings target)
    target_compile_options(${target} PRIVATE ${LS_WARNING_FLAGS})
endfunction()
