# Hardened build, on by default (LS_HARDEN): stack protector, PIE, full RELRO
# with immediate binding, and _FORTIFY_SOURCE=2 where the build optimises
# (it needs -O; sanitizer and fuzz builds replace it with their own checks).
option(LS_HARDEN "Hardened build: stack protector, PIE, RELRO, BIND_NOW, FORTIFY_SOURCE" ON)

if(LS_HARDEN)
    include(CheckPIESupported)
    check_pie_supported()
    set(CMAKE_POSITION_INDEPENDENT_CODE ON)
    add_compile_options(-fstack-protector-strong)
    add_link_options(-Wl,-z,relro -Wl,-z,now)
    if(NOT LS_SANITIZE AND NOT LS_FUZZ)
        add_compile_options(
            "$<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE;-D_FORTIFY_SOURCE=2>")
    endif()
endif()
