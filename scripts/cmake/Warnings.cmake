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

# ls_warnings plus -Wconversion, for the modules that build clean with it:
# azure/, schema/ and worker/ (every module of the program).
function(ls_warnings_strict target)
    ls_warnings(${target})
    target_compile_options(${target} PRIVATE -Wconversion)
endfunction()
