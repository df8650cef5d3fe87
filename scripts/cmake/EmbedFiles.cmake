# ls_embed_files(<out.c> <symbol> <files...>)
# Generates a C file with, for each input, its base name and contents:
#   const struct ls_embedded <symbol>[] = { {"001_init.sql", "...", len}, ..., {0} };
# (struct ls_embedded is declared in schema/ls_embed.h.) Regenerated when an input changes.
set(LS_EMBED_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/embed.cmake")

function(ls_embed_files out symbol)
    add_custom_command(
        OUTPUT "${out}"
        COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DSYMBOL=${symbol} "-DFILES=${ARGN}"
                -P "${LS_EMBED_SCRIPT}"
        DEPENDS ${ARGN} "${LS_EMBED_SCRIPT}"
        COMMENT "Embedding ${symbol}"
        VERBATIM)
endfunction()
